#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Image builds through skiff, as `buildah --runtime skiff`: `buildah run` in a working
# container, and `buildah bud` of a Containerfile whose RUN steps each run in a skiff container,
# the image holding what they wrote. One `ok`/`not ok` line per check; run by the host's
# BuildahTests and by the systemd VM's checks (buildah's defaults there: systemd cgroups, v2).
# buildah 1.28's configs list ambient capabilities without the inheritable set: skiff skips
# them with one warning and runs (runc and crun do the same); buildah 1.39's list none such.
#
# Every step runs with --network none: buildah's default network (netavark or CNI) would set up
# bridges and firewall rules in the network namespace buildah runs in, the node's own.
#
# Environment: BUILDAH (the command, with its storage options), SKIFF, ROOTFS (the project's,
# as the base image: no registry is reachable), SCRATCH (a directory for the build context).
set -u
. "$(dirname "$0")/scenario-lib.sh"
buildah() { command $BUILDAH "$@"; }
# working_container NAME: a container holding the project's rootfs.
working_container() {
    buildah from --name "$1" scratch && m=$(buildah mount "$1") && tar -C "$ROOTFS" -c . | tar -C "$m" -x && buildah umount "$1"
}

check "a working container from the rootfs" working_container w1
out=$(buildah run --runtime "$SKIFF" --network none w1 -- sh -c 'echo hello from buildah; echo made > /made' 2>&1)
check "buildah run" same "$?" 0
check "its output" has "$out" "hello from buildah"
check "at most one warning about ambient capabilities" test "$(echo "$out" | grep -c process.capabilities.ambient)" -le 1
check "what it wrote is in the container" same "$(cat "$(buildah mount w1)/made")" made
buildah run --runtime "$SKIFF" --network none w1 -- sh -c 'exit 7' >/dev/null 2>&1
check "a failing step fails buildah run" test $? -ne 0

check "a base image committed" sh -c "$BUILDAH commit w1 localhost/skiff-base"
mkdir -p "$SCRATCH/context"
printf 'FROM localhost/skiff-base\nRUN echo one > /one\nRUN cat /one > /two && echo two >> /two\nRUN id -u > /uid\n' >"$SCRATCH/context/Containerfile"
check "bud runs three RUN steps in skiff" buildah bud --runtime "$SKIFF" --network none -t localhost/built -f "$SCRATCH/context/Containerfile" "$SCRATCH/context"
built=$(buildah from --name check localhost/built >/dev/null 2>&1 && m=$(buildah mount check) && cat "$m/two" "$m/uid" | tr '\n' ' ')
check "the image holds what the steps wrote" same "$built" "one two 0 "
buildah rm -a >/dev/null 2>&1
buildah rmi -a -f >/dev/null 2>&1
check "no working container is left" same "$(buildah containers -q)" ""
finish
