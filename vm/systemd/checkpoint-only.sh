#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The checkpoint checks alone (what checks.sh runs among the rest), with the end of CRIU's log
# of any failed dump or restore, for working on them:
#   [SUITE=trixie] vm/systemd/run .build/release/skiff .build/release/skiff-init rootfs checkpoint-only.sh
P=/payload
SKIFF=$P/skiff ROOTFS=$P/rootfs SKIFF_FLAGS=--systemd-cgroup
. "$P/checks-lib.sh"
hold_perf_context_switch_hook
echo "SKIFF-VM-START checkpoint checks, $(uname -r) criu $(criu --version | head -n1)"
sbundle() { bundle "$1" "$2" "$3" '[]' '["CAP_KILL"]' "$4" true; }
load_module() {
    insmod $P/modules/$1.ko 2>/dev/null || modprobe "$(basename $1)" 2>/dev/null || grep -q "^$(basename $1) " /proc/modules || notok "loading $1" "insmod and modprobe failed"
}
tar -C "$ROOTFS" -c . | podman import - skiff-busybox > /dev/null 2>&1
podman save -o "$WORK/image.tar" skiff-busybox > /dev/null 2>&1 && ctr image import --snapshotter native "$WORK/image.tar" > /dev/null 2>&1
for module in $(grep -v '^#' $P/modules/list); do load_module $module; done
. "$P/checkpoint.sh"
for f in $(find $WORK /var/lib/containers/storage -name "dump.log" -o -name "restore.log" 2>/dev/null); do grep -q FAILED "$f" && { echo "  # == $f"; tail -n 40 "$f" | sed "s/^/  # /"; }; done
finish
echo "SKIFF-VM-DONE"
