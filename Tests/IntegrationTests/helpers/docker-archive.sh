#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A docker archive (what `ctr images import` and `docker load` read) of the project's rootfs:
# one layer, shared by every image named. No registry is reachable; the tests build their
# images this way.
#   docker-archive.sh OUTPUT ROOTFS NAME:TAG CONFIG-JSON [NAME:TAG CONFIG-JSON ...]
# CONFIG-JSON is the image's "config" object, e.g. {"Cmd":["sh"]}.
set -eu
output=$1 rootfs=$2
shift 2
work=$(mktemp -d "${output%/*}/.archive.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -C "$rootfs" -cf "$work/layer.tar" .
layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
manifest="" n=0
while [ $# -ge 2 ]; do
    n=$((n + 1))
    printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$2" "$layer" >"$work/config$n.json"
    manifest="$manifest${manifest:+,}{\"Config\":\"config$n.json\",\"RepoTags\":[\"$1\"],\"Layers\":[\"layer.tar\"]}"
    shift 2
done
printf '[%s]' "$manifest" >"$work/manifest.json"
(cd "$work" && tar -cf "$output" ./*.json layer.tar)
