#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Security groups for pods of any runtime, through containerd's CRI plugin with skiff as its
# CNI plugin: pods db (group db, ingress tcp 5432 from web) and other under runc's handler,
# web under skiff's. web reaches db:5432; other does not; web does not reach db:5433; a new
# web pod reaches db again after the old one is removed; a pod with a malformed annotation
# fails RunPodSandbox naming it; nothing is left on the node. Prints one `ok`/`not ok` line per check.
#
# Environment: SOCKET (containerd's), CRI (cri.py, with CRI_PYTHON_OUT), LOG_DIRECTORY, NODE
# (the network namespace containerd runs in).
set -u
. "$(dirname "$0")/pods-lib.sh"

db=$(run "$(pod db '{"io.skiff.network.groups":"db","io.skiff.network.ingress":"tcp 5432 web"}')" runc \
    "nc -ll -p 5432 -e echo db & nc -ll -p 5433 -e echo db & sleep 300")
require "db runs under runc with skiff's network" test -n "$db"
web=$(run "$(pod web '{"io.skiff.network.groups":"web"}')" skiff "sleep 300")
require "web runs under skiff with skiff's network" test -n "$web"
other=$(run "$(pod other '{}')" runc "sleep 300")
require "other runs under runc with the network's default rules" test -n "$other"
db_address=$(address "${db% *}")
check "db has an address of skiff's bridge" has "$db_address" 10.98.0.
sleep 0.3
check "web reaches db:5432 (db's ingress names web)" same "$(connect "${web#* }" "$db_address" 5432)" db
check "other does not reach db:5432" same "$(connect "${other#* }" "$db_address" 5432)" ""
check "web does not reach db:5433" same "$(connect "${web#* }" "$db_address" 5433)" ""

check "web's pod is removed" remove "${web% *}"
web2=$(run "$(pod web2 '{"io.skiff.network.groups":"web"}')" skiff "sleep 300")
require "a new web pod runs" test -n "$web2"
check "the new web reaches db:5432" same "$(connect "${web2#* }" "$db_address" 5432)" db

bad=$(cri RunPodSandbox "{\"config\":$(pod bad '{"io.skiff.network.ingress":"tcp 99999 web"}'),\"runtime_handler\":\"runc\"}" pod_sandbox_id 2>&1)
check "a malformed annotation fails RunPodSandbox, naming it" has "$bad" "io.skiff.network.ingress"
check "and its value" has "$bad" "tcp 99999 web"

for pair in "$db" "$web2" "$other"; do check "pod ${pair% *} is removed" remove "${pair% *}"; done
check "no task veth is left" no_task_veth
check "no element is left (and nft lists the ruleset)" no_elements
check "no lease is left" no_lease
finish
