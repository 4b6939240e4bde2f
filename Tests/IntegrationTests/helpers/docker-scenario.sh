#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What Docker users do, with skiff as `docker run --runtime skiff`: one `ok`/`not ok` line per
# check (TAP without a plan). Run by the host's DockerTests (cgroupfs on a hybrid host) and by
# the systemd VM's checks (Docker's defaults there: the systemd cgroup driver on cgroup v2);
# limits are read inside the container's own cgroup, which either layout shows at
# /sys/fs/cgroup. The image `skiff-busybox` is imported by the caller.
#
# Environment: DOCKER (the client command, with its -H), SCRATCH (a directory for a bind mount);
# OOM_KILLED_REPORTED=no where Docker's OOMKilled for a container whose init is OOM-killed is a
# race (the systemd VM's cgroup v2: its caller prints skiff's and runc's answers there).
set -u
. "$(dirname "$0")/scenario-lib.sh"
docker() { command $DOCKER "$@"; }
run() { docker run --runtime skiff --network none "$@"; }
inspect() { docker inspect -f "$1" "$2"; }
memory_limit='cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'

# run --rm, exit codes, -i, -t
out=$(run --rm skiff-busybox sh -c 'echo hello from docker; exit 3' 2>&1)
check "run --rm passes the exit code on" same "$?" 3
check "and the output" has "$out" "hello from docker"
check "run -i reads stdin" has "$(echo through docker | run --rm -i skiff-busybox cat)" "through docker"
check "run -it has a terminal" has "$(echo 'tty; exit 2' | script -qec "$DOCKER run --rm -it --runtime skiff --network none skiff-busybox sh" /dev/null)" /dev/pts/0
# Docker reads the runtime's error text for these codes (moby's translateContainerdStartErr).
run --rm skiff-busybox no-such-command >/dev/null 2>&1
check "a command that does not exist exits 127" same "$?" 127
run --rm skiff-busybox /etc/passwd >/dev/null 2>&1
check "a command that cannot be executed exits 126" same "$?" 126

# A detached container, managed as Docker manages it.
check "run -d with --memory, --cpus, --pids-limit" run -d --name web --memory 64m --cpus 0.5 --pids-limit 20 skiff-busybox sleep 300
id=$(inspect '{{.Id}}' web)
check "exec" has "$(docker exec web sh -c 'echo in-exec')" in-exec
check "exec -it has a terminal" has "$(echo 'tty; exit 0' | script -qec "$DOCKER exec -it web sh" /dev/null)" /dev/pts/0
# Docker 20.10's exec reports any failure to start as 126 (measured under runc too).
docker exec web no-such-command >/dev/null 2>&1
check "exec of a command that does not exist exits 126, as under runc" same "$?" 126
check "top lists the container's process" has "$(docker top web)" "sleep 300"
check "stats reads the memory limit" has "$(docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' web)" 64MiB
check "the memory limit holds in the container's cgroup" same "$(docker exec web sh -c "$memory_limit")" 67108864
check "pause" docker pause web
check "the container is paused" same "$(inspect '{{.State.Status}}' web)" paused
check "unpause" docker unpause web
check "update --memory on a running container" docker update --memory 128m --memory-swap 256m web
check "the new limit holds" same "$(docker exec web sh -c "$memory_limit")" 134217728
check "kill -s USR1 leaves it running" docker kill -s USR1 web
check "it still runs" same "$(inspect '{{.State.Status}}' web)" running
check "stop -t 1" docker stop -t 1 web
check "it exited" same "$(inspect '{{.State.Status}}' web)" exited
check "rm -f" docker rm -f web
check "no cgroup of the container is left" same "$(find /sys/fs/cgroup -maxdepth 4 -name "*$id*")" ""

# Limits and confinement.
run --name oom --memory 32m skiff-busybox sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1' >/dev/null 2>&1
check "--memory: the process is OOM-killed (137)" same "$?" 137
[ "${OOM_KILLED_REPORTED:-yes}" = no ] || check "and Docker reports OOMKilled" same "$(inspect '{{.State.OOMKilled}}' oom)" true
docker rm -f oom >/dev/null 2>&1
# A worker OOM-killed while its container runs on: Docker reports OOMKilled on every host.
# (Docker 20.10 counts an OOM kill only when containerd's TaskOOM reaches it before the
# TaskExit; on cgroup v2 the shim learns of the kill from memory.events, whose notification the
# kernel may hold back 20 ms, so for an init killed at once the exit can win, under runc too.)
out=$(run --name oom-worker --memory 32m skiff-busybox sh -c 'sleep 2; dd if=/dev/zero of=/dev/null bs=100M count=1; echo worker ended $?; sleep 3' 2>&1)
check "--memory: a worker is OOM-killed, its container runs on" has "$out" "worker ended 137"
check "and Docker reports the container OOMKilled" same "$(inspect '{{.State.OOMKilled}}' oom-worker)" true
docker rm -f oom-worker >/dev/null 2>&1
# The shell's own stderr too: the fork the limit refuses may be the pipeline's or the loop's
# (a CI run saw "can't fork" from the shell itself, outside the loop's redirection).
check "--pids-limit stops a fork" has "$(run --rm --pids-limit 10 skiff-busybox sh -c 'exec 2>&1; for i in $(seq 20); do sleep 5 & done' 2>&1)" fork
check "--read-only" has "$(run --rm --read-only skiff-busybox sh -c 'touch /x' 2>&1)" "Read-only file system"
check "--cap-drop ALL" has "$(run --rm --cap-drop ALL skiff-busybox grep CapEff /proc/self/status)" 0000000000000000
check "--security-opt no-new-privileges" has "$(run --rm --security-opt no-new-privileges skiff-busybox grep NoNewPrivs /proc/self/status)" 1
check "--user 1000:1000" has "$(run --rm --user 1000:1000 skiff-busybox id)" "uid=1000 gid=1000"
check "--tmpfs with a size" has "$(run --rm --tmpfs /scratch:size=1m skiff-busybox grep scratch /proc/mounts)" size=1024k
mkdir -p "$SCRATCH/share" && echo shared >"$SCRATCH/share/f"
check "a bind mount" has "$(run --rm -v "$SCRATCH/share:/share" skiff-busybox cat /share/f)" shared
check "--init runs docker-init as pid 1" has "$(run --rm --init skiff-busybox ps -o comm)" docker-init

# Logs, health checks, restart policies.
check "run -d for logs" run -d --name talk skiff-busybox sh -c 'echo logged; sleep 30'
logged() { docker logs talk 2>&1 | grep -q logged; }
check "logs" within 5 logged
check "run -d with a health check" run -d --name hc --health-cmd true --health-interval 1s skiff-busybox sleep 60
healthy() { [ "$(inspect '{{.State.Health.Status}}' hc)" = healthy ]; }
check "the health check reaches healthy" within 15 healthy
check "run -d --restart on-failure:2" run -d --name rs --restart on-failure:2 skiff-busybox sh -c 'exit 1'
restarted() { [ "$(inspect '{{.RestartCount}} {{.State.Status}}' rs)" = "2 exited" ]; }
check "restarted twice, then exited" within 15 restarted
check "rm -f of running and exited containers" docker rm -f talk hc rs
check "no container is left" same "$(docker ps -aq)" ""
finish
