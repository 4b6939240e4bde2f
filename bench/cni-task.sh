#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The per-task network of containerd's CRI and CNI-era podman, for the benchmark: the CNI
# `bridge` plugin with `host-local` addresses, then the `firewall` plugin, chained as libcni
# chains them (each plugin gets the previous result), ADD at create, DEL (in reverse) at
# delete. Debian's containernetworking-plugins; no cnitool is packaged, so the chaining is
# this script's.
#   cni-task.sh ADD|DEL CONTAINER-ID NETNS-PATH STATE-DIRECTORY
set -eu
command=$1 id=$2 netns=$3 state=$4
export CNI_COMMAND=$command CNI_CONTAINERID=$id CNI_NETNS=$netns CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
bridge='"type": "bridge", "bridge": "cni-bench0", "isGateway": true, "ipMasq": false,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.89.0.0/16"}]], "dataDir": "'"$state"'/ipam"}'
firewall='"type": "firewall", "backend": "iptables"'
config() { printf '{"cniVersion": "1.0.0", "name": "bench", %s%s}' "$1" "${2:+, \"prevResult\": $2}"; }
if [ "$command" = ADD ]; then
    result=$(config "$bridge" | /usr/lib/cni/bridge)
    config "$firewall" "$result" | /usr/lib/cni/firewall > "$state/$id.result"
else
    result=$(cat "$state/$id.result")
    config "$firewall" "$result" | /usr/lib/cni/firewall
    config "$bridge" "$result" | /usr/lib/cni/bridge
    rm -f "$state/$id.result"
fi
