#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Security groups for pods of any runtime, through containerd's CRI plugin with skiff as its
# CNI plugin: pods db (group db, ingress tcp 5432 from web) and other under runc's handler,
# web under skiff's. web reaches db:5432; other does not; web does not reach db:5433; a new
# web pod reaches db again after the old one is removed; a pod with a malformed annotation
# fails RunPodSandbox naming it. Prints one `ok`/`not ok` line per check.
#
# Environment: SOCKET (containerd's), CRI (cri.py, with CRI_PYTHON_OUT), LOG_DIRECTORY.
set -u
. "$(dirname "$0")/../scenario-lib.sh"
cri() { "$CRI" "$SOCKET" "$@"; }
exec_in() { cri ExecSync "{\"container_id\":\"$1\",\"cmd\":[\"sh\",\"-c\",\"$2\"],\"timeout\":30}" --as-process; }
# pod NAME ANNOTATIONS-JSON: a pod sandbox config.
pod() {
    printf '{"metadata":{"name":"%s","uid":"skiff-groups-%s-%s","namespace":"default"},"hostname":"%s","log_directory":"%s","annotations":%s,"linux":{"security_context":{"namespace_options":{"network":"POD","pid":"CONTAINER","ipc":"POD"}}}}' \
        "$1" "$1" "$$" "$1" "$LOG_DIRECTORY" "$2"
}
# run POD-CONFIG HANDLER COMMAND: the pod sandbox and one container running COMMAND; prints
# "SANDBOX CONTAINER" (a failed call says why on stderr).
run() {
    sandbox=$(cri RunPodSandbox "{\"config\":$1,\"runtime_handler\":\"$2\"}" pod_sandbox_id) || return 1
    container=$(cri CreateContainer "{\"pod_sandbox_id\":\"$sandbox\",\"config\":{\"metadata\":{\"name\":\"main\"},\"image\":{\"image\":\"skiff.test/busybox:1\"},\"command\":[\"sh\",\"-c\",\"$3\"],\"log_path\":\"main-$sandbox.log\"},\"sandbox_config\":$1}" container_id) || return 1
    cri StartContainer "{\"container_id\":\"$container\"}" > /dev/null || return 1
    echo "$sandbox $container"
}
remove() { cri StopPodSandbox "{\"pod_sandbox_id\":\"$1\"}" > /dev/null && cri RemovePodSandbox "{\"pod_sandbox_id\":\"$1\"}" > /dev/null; }
address() { cri PodSandboxStatus "{\"pod_sandbox_id\":\"$1\"}" status.network.ip; }
# connect CONTAINER ADDRESS PORT: what a TCP connection from the container reads.
connect() { exec_in "$1" "nc -w 1 $2 $3 2>/dev/null"; }

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
finish
