#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Prepares a containerd of the tests' own to serve CRI with skiff as the RuntimeClass handler
# `skiff`, everything under DIRECTORY:
#   config.toml   containerd's (root, state, socket, CRI plugin, runtimes runc and skiff)
#   cni/          a bridge network with host-local addresses (Debian's containernetworking-plugins)
#   image.tar     the project's rootfs as two images: skiff.test/busybox:1 and the pod sandbox's
#                 skiff.test/pause:1 (no registry is reachable), for `ctr images import
#                 --no-unpack` (the CRI plugin unpacks them for its snapshotter)
#   python/       the CRI messages (runtime.proto) compiled for cri.py
# Usage: prepare-node.sh DIRECTORY SKIFF ROOTFS cgroupfs|systemd [bridge|skiff]
#   the last: the pods' CNI network, the CNI bridge plugin's (the default) or skiff's own
#   (the skiff binary as the CNI plugin, with the pods' annotations; plugins in cni-bin/)
set -eu
directory=$1 skiff=$2 rootfs=$3 driver=$4 network=${5:-bridge}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$directory/cni" "$directory/logs" "$directory/python"

if [ "$driver" = systemd ]; then systemd_cgroup=true; else systemd_cgroup=false; fi
# containerd's CRI gives every pod sandbox oom_score_adj -998, and lowering a score needs
# CAP_SYS_RESOURCE. Where the tests' root lacks it (this project's development machine does:
# runc and crun fail there the same way), containerd's own knob keeps scores at or above its own.
effective=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)
if [ $((0x$effective >> 24 & 1)) -eq 0 ]; then restrict_oom_score_adj=true; else restrict_oom_score_adj=false; fi
# overlayfs where the kernel has it; plain copies (native) in the systemd VM, which has no modules.
if grep -qw overlay /proc/filesystems; then snapshotter=overlayfs; else snapshotter=native; fi
cat >"$directory/config.toml" <<CONFIG
version = 2
root = "$directory/root"
state = "$directory/state"
# Snapshotters that would try to load kernel modules (aufs) or are not set up here.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$directory/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "skiff.test/pause:1"
  restrict_oom_score_adj = $restrict_oom_score_adj
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snapshotter"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.skiff]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.skiff.options]
        BinaryName = "$skiff"
        Root = "$directory/runtime"
        SystemdCgroup = $systemd_cgroup
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$directory/cni-bin"
    conf_dir = "$directory/cni"
CONFIG

# The CRI plugin also brings up each pod's loopback through the loopback plugin.
mkdir -p "$directory/cni-bin"
for plugin in /usr/lib/cni/*; do ln -sf "$plugin" "$directory/cni-bin/"; done
if [ "$network" = skiff ]; then
    ln -sf "$skiff" "$directory/cni-bin/skiff"
    cat >"$directory/cni/10-skiff-pods.conflist" <<CNI
{"cniVersion": "1.0.0", "name": "skiff-pods", "plugins": [
  {"type": "skiff", "bridge": "skiff-cri0", "subnet": "10.98.0.0/24", "ingress": "",
   "capabilities": {"io.kubernetes.cri.pod-annotations": true}}]}
CNI
else
    cat >"$directory/cni/10-skiff-pods.conflist" <<CNI
{"cniVersion": "1.0.0", "name": "skiff-pods", "plugins": [
  {"type": "bridge", "bridge": "cni-skiff0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.99.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "$directory/ipam"}}]}
CNI
fi

"$here/../docker-archive.sh" "$directory/image.tar" "$rootfs" \
    skiff.test/busybox:1 '{"Cmd":["sh"],"Env":["PATH=/bin:/sbin:/usr/bin:/usr/sbin"]}' \
    skiff.test/pause:1 '{"Entrypoint":["/bin/sleep","2147483647"]}'

protoc --python_out="$directory/python" -I "$here" "$here/runtime.proto"
