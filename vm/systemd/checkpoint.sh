#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Checkpoint and restore through CRIU (Debian's: 3.17 in Debian 12, 4.1 in Debian 13), in the
# systemd VM, whose kernel CRIU supports. Sourced by checks.sh (checks-lib.sh's helpers and
# SKIFF_FLAGS=--systemd-cgroup: every container is a scope).

# A counter whose count lives in the shell's memory (a restore that started it again would
# count from 1), written to a tmpfs of the container's (/tmp, which CRIU saves) and to a bind
# mount from the VM (/data: an external mount); a seccomp filter (mkdir refused), masked
# files and a masked directory, limits of its own. Its standard descriptors are its own.
# /data/count is written in place at a fixed width (`1<>` does not truncate), in a file made
# at that width: CRIU records the size of a file the task has open on an external mount and
# refuses to restore once it differs, so a dump that caught the shell between a truncating
# open and its write (size 0), restored after the file was written again, failed at random.
counter_bundle() {
    sbundle "$1" '["sh", "-c", "exec </dev/null >/dev/null 2>&1; i=0; while :; do i=$((i+1)); echo $i > /tmp/count; printf %08d $i 1<> /data/count; sleep 0.2; done"]' \
        '{"memory": {"limit": 67108864}, "pids": {"limit": 20}}' "$2"
    mkdir -p "$WORK/$1-data"
    printf %08d 0 > "$WORK/$1-data/count"
    sed -i "s|\"mounts\": \[|\"mounts\": [{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$WORK/$1-data\", \"options\": [\"rbind\", \"rw\"]},|; \
        s|\"linux\": {|\"linux\": {\"maskedPaths\": [\"/proc/kcore\", \"/proc/keys\", \"/proc/acpi\"], \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\"}]},|" \
        "$WORK/$1/config.json"
}
# nonempty COMMAND…: its output (stderr dropped), run again while empty, up to 5 times: the
# counters truncate their file before they write the number
nonempty() {
    for attempt in 1 2 3 4 5; do
        out=$("$@" 2>/dev/null)
        [ -n "$out" ] && break
        sleep 0.05
    done
    echo "$out"
}
# count_of ID: the count in the container's /tmp/count; data_count NAME: the one in its /data
# (without its leading zeros)
count_of() { nonempty skiff exec "$1" cat /tmp/count; }
data_count() { nonempty cat "$WORK/$1-data/count" | sed 's/^0*\(.\)/\1/'; }
# counting ID: the count moves on within 10 s (an exec under TCG on a loaded machine is slow)
counting() {
    first=$(count_of "$1"); i=0
    while [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
        now=$(count_of "$1")
        [ -z "$first" ] && first=$now && continue  # (not started yet)
        [ -n "$now" ] && [ "$now" -gt "$first" ] && return 0
    done
    return 1
}
scope_of() { echo "$CG/system.slice/skiff-$1.scope"; }

criu_version=$(criu --version 2>&1 | sed -n 's/^Version: //p')
skiff features | grep -q '"org.opencontainers.runc.checkpoint.enabled": "true"' && ok "checkpoint: features says it is enabled (criu $criu_version)" \
    || notok "checkpoint: features" "$(skiff features | grep -i checkpoint)"

counter_bundle cr
skiff run -d -b "$WORK/cr" cr > "$WORK/cr.out" 2>&1 || notok "checkpoint: the counter runs" "$(cat "$WORK/cr.out")"
counting cr && ok "checkpoint: the counter counts" || notok "checkpoint: the counter counts" "$(count_of cr)"
before_status=$(grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/$(pid_of cr)/status)

# --leave-running: the images, and the container runs on
skiff checkpoint --leave-running --image-path "$WORK/cp1" cr > "$WORK/cp1.out" 2>&1 && [ -f "$WORK/cp1/inventory.img" ] \
    && ok "checkpoint --leave-running: the images are written" || notok "checkpoint --leave-running" "$(tail -n 3 "$WORK/cp1.out")"
at_first=$(data_count cr)
counting cr && [ "$(skiff state cr | grep -c '"running"')" = 1 ] && ok "checkpoint --leave-running: the container runs on" \
    || notok "checkpoint --leave-running: runs on" "$(skiff state cr 2>&1 | grep status)"

# without: the container is saved and gone, its scope too
sleep 1
skiff checkpoint --image-path "$WORK/cp2" --work-path "$WORK/cp2-work" cr > "$WORK/cp2.out" 2>&1 && [ -f "$WORK/cp2-work/dump.log" ] \
    && ok "checkpoint: the images are written (log in --work-path)" || notok "checkpoint" "$(tail -n 3 "$WORK/cp2.out")"
at_second=$(data_count cr)
! skiff state cr > /dev/null 2>&1 && [ ! -d "$(scope_of cr)" ] && ok "checkpoint: the container is gone, and its scope" \
    || notok "checkpoint: the container is gone" "$(skiff list; ls -d "$(scope_of cr)" 2>&1)"

# restore: counting on from where it was, in a new scope with its limits, confined as before
skiff restore -d --image-path "$WORK/cp2" --work-path "$WORK/cp2-work" -b "$WORK/cr" --pid-file "$WORK/cr.pid" cr > "$WORK/rs.out" 2>&1 \
    && ok "restore -d" || notok "restore -d" "$(tail -n 5 "$WORK/rs.out")"
pid=$(pid_of cr)
[ -n "$pid" ] && [ "$(cat "$WORK/cr.pid" 2>&1)" = "$pid" ] && ok "restore --pid-file names the restored process" || notok "restore --pid-file" "$(cat "$WORK/cr.pid" 2>&1) vs $pid"
now=$(count_of cr)
[ -n "$now" ] && [ "$now" -ge "$at_second" ] && counting cr && ok "restore: counting on from $at_second (now $now), not from 1" \
    || notok "restore: counting on" "at checkpoint $at_second, now '$now'"
grep -q "^0::/system.slice/skiff-cr.scope$" /proc/$pid/cgroup && [ "$(cat "$(scope_of cr)/memory.max" 2>&1)" = 67108864 ] \
    && [ "$(cat "$(scope_of cr)/pids.max" 2>&1)" = 20 ] && ok "restore: in its scope, with its memory and pids limits" \
    || notok "restore: its scope" "$(cat /proc/$pid/cgroup) $(cat "$(scope_of cr)/memory.max" 2>&1)"
[ "$(grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/$pid/status)" = "$before_status" ] && ok "restore: capabilities, no_new_privs and seccomp mode as before" \
    || notok "restore: credentials" "$(grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/$pid/status) vs $before_status"
out=$(skiff exec cr mkdir /tmp/refused 2>&1)
case "$out" in *"Operation not permitted"*) ok "restore: the seccomp filter still refuses mkdir" ;; *) notok "restore: seccomp" "$out" ;; esac
[ "$(skiff exec cr cat /proc/kcore 2>&1 | wc -c)" = 0 ] && [ -z "$(skiff exec cr ls /proc/acpi 2>&1)" ] \
    && ok "restore: the masked file and directory are still masked" || notok "restore: masked paths" "$(skiff exec cr ls /proc/acpi 2>&1 | head -n 2)"
[ "$(data_count cr)" -gt "$at_second" ] && ok "restore: the bind mount is the VM's directory again" || notok "restore: the bind mount" "$(data_count cr)"

# bad input: one line, nothing changed
out=$(skiff restore -d --image-path "$WORK/cp1" -b "$WORK/cr" cr 2>&1); status=$?
[ $status -ne 0 ] && [ "$(echo "$out" | wc -l)" = 1 ] && case "$out" in *"already exists"*) true ;; *) false ;; esac && counting cr \
    && ok "restore over an existing id: one line, the container untouched" || notok "restore over an existing id" "$status: $out"
out=$(skiff restore -d --image-path "$WORK/nothing-here" -b "$WORK/cr" cr9 2>&1); status=$?
[ $status -ne 0 ] && [ "$(echo "$out" | wc -l)" = 1 ] && ! skiff state cr9 > /dev/null 2>&1 && [ ! -d "$(scope_of cr9)" ] \
    && ok "restore from an image path that does not exist: one line, nothing made" || notok "restore from a missing image path" "$status: $out"

# the first checkpoint copied elsewhere, restored under another id once the original is gone
skiff delete -f cr > /dev/null 2>&1
cp -a "$WORK/cp1" "$WORK/copied"
skiff restore -d --image-path "$WORK/copied" -b "$WORK/cr" cr2 > "$WORK/rs2.out" 2>&1 && ok "restore of a copied checkpoint under another id" \
    || notok "restore of a copied checkpoint" "$(tail -n 5 "$WORK/rs2.out")"
now=$(count_of cr2)
[ -n "$now" ] && [ "$now" -ge "$at_first" ] && [ "$now" -lt "$at_second" ] && counting cr2 \
    && ok "the copy counts on from the first checkpoint ($at_first, now $now, before $at_second)" || notok "the copy's count" "first $at_first, second $at_second, now '$now'"
[ -d "$(scope_of cr2)" ] && ok "the copy is in a scope of its own id" || notok "the copy's scope" "$(ls $CG/system.slice | grep skiff)"

# skiff killed mid-checkpoint (--leave-running): a released CRIU finishes its dump (one killed
# mid-way could leave the task half-infected by its parasite), then the container runs on,
# not frozen, no CRIU left
for delay in 0.05 0.2 0.5; do
    # (exec: $! is skiff itself, not a subshell running the skiff function)
    (exec "$SKIFF" $SKIFF_FLAGS --root "$STATE" checkpoint --leave-running --image-path "$WORK/killed-$delay" cr2 > /dev/null 2>&1) &
    sleep $delay; kill -9 $! 2>/dev/null; wait $! 2>/dev/null
    i=0; while pgrep -x criu > /dev/null && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
done
counting cr2 && [ "$(skiff state cr2 | grep -c '"running"')" = 1 ] && [ "$(cat "$(scope_of cr2)/cgroup.freeze")" = 0 ] \
    && ! pgrep -x criu > /dev/null && ok "a checkpoint killed at 50, 200, 500 ms: the container runs on, not frozen, no CRIU left" \
    || notok "a killed checkpoint" "$(skiff state cr2 2>&1 | grep status) freeze=$(cat "$(scope_of cr2)/cgroup.freeze") criu: $(ps -o pid,ppid,stat,args -C criu | tail -n +2)"

# killed mid-restore, then delete -f: no process, scope or state left. An id each (a scope of a
# killed restore that systemd still ends would refuse the next restore of its id: UnitExists);
# a scope whose start reached systemd after delete's stop, holding only the CRIU that died
# with skiff, systemd ends itself, so each is waited for, up to 10 s, while empty.
skiff checkpoint --leave-running --image-path "$WORK/cp3" cr2 > /dev/null 2>&1
left=
for delay in 0.05 0.3 1; do
    id=cr3-${delay#*.}
    (exec "$SKIFF" $SKIFF_FLAGS --root "$STATE" restore -d --image-path "$WORK/cp3" -b "$WORK/cr" $id > /dev/null 2>&1) &
    sleep $delay; kill -9 $! 2>/dev/null; wait $! 2>/dev/null
    skiff delete -f $id > /dev/null 2>&1
    i=0; while [ -d "$(scope_of $id)" ] && [ -z "$(cat "$(scope_of $id)/cgroup.procs" 2>/dev/null)" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
    if skiff state $id > /dev/null 2>&1 || [ -d "$(scope_of $id)" ]; then
        left="$left $id (scope: $(systemctl is-active skiff-$id.scope 2>&1), processes: $(cat "$(scope_of $id)/cgroup.procs" 2>&1 | tr '\n' ' '))"
    fi
done
[ -z "$left" ] && ! pgrep -x criu > /dev/null && ok "a restore killed at 50, 300, 1000 ms, then delete -f: nothing left" \
    || notok "a killed restore" "left:$left; records: $(skiff list -q | tr '\n' ' ') criu: $(pgrep -x criu)"

# an incremental checkpoint: a pre-dump (memory only, the container runs on), then the dump
# against it (--parent-path, relative to --image-path as runc has it), then the restore
skiff checkpoint --pre-dump --image-path "$WORK/inc/pre" cr2 > "$WORK/pre.out" 2>&1 && counting cr2 \
    && ok "checkpoint --pre-dump: the container runs on" || notok "checkpoint --pre-dump" "$(tail -n 3 "$WORK/pre.out")"
skiff checkpoint --image-path "$WORK/inc/final" --parent-path ../pre cr2 > "$WORK/final.out" 2>&1 && ! skiff state cr2 > /dev/null 2>&1 \
    && [ -L "$WORK/inc/final/parent" ] && ok "checkpoint --parent-path: the dump against the pre-dump" || notok "checkpoint --parent-path" "$(tail -n 3 "$WORK/final.out")"
skiff restore -d --image-path "$WORK/inc/final" -b "$WORK/cr" cr2 > "$WORK/inc-rs.out" 2>&1 && counting cr2 \
    && ok "restore of an incremental checkpoint" || notok "restore of an incremental checkpoint" "$(tail -n 3 "$WORK/inc-rs.out") $(skiff state cr2 2>&1 | grep -E 'status|pid') count '$(count_of cr2)'"
skiff delete -f cr2 > /dev/null 2>&1

# lazy migration: the dump serves the memory pages (--lazy-pages --page-server, ready when it
# writes a zero byte to --status-fd), CRIU's lazy-pages daemon fetches them for a restore
# that runs before they have all arrived (userfaultfd), under another id
counter_bundle lz
skiff run -d -b "$WORK/lz" lz > "$WORK/lz.out" 2>&1 || notok "lazy: the counter runs" "$(cat "$WORK/lz.out")"
sleep 1
mkfifo "$WORK/lazy.fifo" && exec 4<> "$WORK/lazy.fifo"
skiff checkpoint --lazy-pages --page-server 127.0.0.1:27277 --status-fd 5 --image-path "$WORK/lazy" lz > "$WORK/lazy-cp.out" 2>&1 5>&4 &
lazy_dump=$!
ready=$(timeout 20 dd bs=1 count=1 <&4 2>/dev/null | od -An -c | tr -d ' ')
exec 4>&-
criu lazy-pages --page-server --address 127.0.0.1 --port 27277 --images-dir "$WORK/lazy" > "$WORK/lazy-daemon.out" 2>&1 &
lazy_daemon=$!
skiff restore -d --lazy-pages --image-path "$WORK/lazy" -b "$WORK/lz" lz2 > "$WORK/lazy-rs.out" 2>&1; status=$?
wait $lazy_dump; dumped=$?
wait $lazy_daemon 2>/dev/null
[ "$ready" = '\0' ] && [ $status -eq 0 ] && [ $dumped -eq 0 ] && counting lz2 && ! skiff state lz > /dev/null 2>&1 \
    && ok "checkpoint --lazy-pages --page-server --status-fd, restore --lazy-pages: counting on as lz2, lz gone" \
    || notok "lazy migration" "ready '$ready', restore $status: $(tail -n 3 "$WORK/lazy-rs.out"); dump $dumped: $(tail -n 3 "$WORK/lazy-cp.out")"
skiff delete -f lz2 > /dev/null 2>&1; skiff delete -f lz > /dev/null 2>&1

# the cgroupfs driver (a cgroupsPath of its own: skiff's cgroup here is a service's, where
# systemd delegates no memory controller): the restored task there, with its limits
cfs() { "$SKIFF" --root "$STATE" "$@"; }
counter_bundle cfs /skiff-checkpoint/cfs1
cfs run -d -b "$WORK/cfs" cfs1 > "$WORK/cfs1.out" 2>&1 || notok "cgroupfs: the counter runs" "$(cat "$WORK/cfs1.out")"
sleep 0.5
cfs checkpoint --image-path "$WORK/cp-cfs" cfs1 > "$WORK/cp-cfs.out" 2>&1 && cfs restore -d --image-path "$WORK/cp-cfs" -b "$WORK/cfs" cfs1 > "$WORK/rs-cfs.out" 2>&1 \
    && ok "cgroupfs: checkpoint and restore" || notok "cgroupfs: checkpoint and restore" "$(tail -n 3 "$WORK/cp-cfs.out" "$WORK/rs-cfs.out")"
cfs_pid=$(cfs state cfs1 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
cfs_cgroup=$(sed -n 's/^0:://p' /proc/$cfs_pid/cgroup 2>/dev/null)
[ "$cfs_cgroup" = /skiff-checkpoint/cfs1 ] && [ "$(cat $CG$cfs_cgroup/memory.max 2>&1)" = 67108864 ] \
    && ok "cgroupfs: the restored task is in $cfs_cgroup with memory.max 64 MiB" || notok "cgroupfs: the restored task's cgroup" "'$cfs_cgroup' $(cat $CG$cfs_cgroup/memory.max 2>&1)"
cfs delete -f cfs1 > /dev/null 2>&1
[ ! -d "$CG/skiff-checkpoint/cfs1" ] && ok "cgroupfs: delete removes the restored task's cgroup" || notok "cgroupfs: the cgroup is left" "$cfs_cgroup"

. "$P/checkpoint-options.sh"

# --- a task with skiff's network (a node namespace of the checks' own): restored with its
# address and its rules, and its peers' rules naming its group apply to it again ---
ip netns add skiff-cpnode && ip -n skiff-cpnode link set lo up
nskiff() { nsenter --net=/run/netns/skiff-cpnode "$SKIFF" $SKIFF_FLAGS --root "$STATE" "$@"; }
# networked NAME ANNOTATIONS-JSON: the bundle's task gets a network namespace and skiff's network
networked() {
    sed -i "s|\"namespaces\": \[|\"namespaces\": [{\"type\": \"network\"}, |; s|^{\"ociVersion\": \"1.2.0\",|{\"ociVersion\": \"1.2.0\", \"annotations\": $2,|" "$WORK/$1/config.json"
}
net_bundle() { sbundle "$1" "$2" '{}'; networked "$1" "$3"; }
net='"io.skiff.network.bridge": "skiff0", "io.skiff.network.subnet": "10.78.0.0/24"'
# db answers "db" on 5432 and echoes on 5433
net_bundle db '["sh", "-c", "exec </dev/null >/dev/null 2>&1; nc -ll -p 5433 -e cat & nc -ll -p 5432 -e echo db & exec sleep 600"]' \
    "{$net, \"io.skiff.network.groups\": \"db\", \"io.skiff.network.ingress\": \"tcp 5432 web; tcp 5433 web\"}"
net_bundle web '["sleep", "600"]' "{$net, \"io.skiff.network.groups\": \"web\", \"io.skiff.network.egress\": \"tcp 5432 db\"}"
net_bundle other '["sleep", "600"]' "{$net}"
# client (in group web) holds one TCP connection to db's 5433 open, counting what db echoes
py_bundle client <<'PY'
import socket, traceback
while not os.path.exists('/srv/db'):
    time.sleep(0.1)
peer = socket.create_connection((open('/srv/db').read().strip(), 5433))
i = 0
try:
    while True:
        i += 1
        peer.sendall(b'%d\n' % i)
        count(int(peer.recv(64).split()[-1]))
        time.sleep(0.2)
except Exception:
    with open('/data/error', 'w') as out:
        out.write(traceback.format_exc().splitlines()[-1])
    raise
PY
networked client "{$net, \"io.skiff.network.groups\": \"web\", \"io.skiff.network.egress\": \"tcp 5433 db\"}"
for task in db web other client; do nskiff run -d -b "$WORK/$task" $task > "$WORK/$task.out" 2>&1 || notok "network: $task runs" "$(cat "$WORK/$task.out")"; done
address_of() { nskiff exec "$1" ip -o -4 addr show dev eth0 2>/dev/null | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p'; }
db_address=$(address_of db)
echo "$db_address" > "$WORK/client-py/db"
reaches() { [ "$(nskiff exec "$1" timeout 3 nc "$2" 5432 < /dev/null 2>/dev/null)" = db ]; }
reaches web "$db_address" && ! reaches other "$db_address" && ok "network: web reaches db ($db_address) on 5432, other does not" \
    || notok "network: before the checkpoint" "db at '$db_address'"
counting client && ok "network: client's connection to db echoes its count" || notok "network: client's connection" "'$(count_of client)'"
out=$(nskiff checkpoint --leave-running --image-path "$WORK/cp-db-refused" db 2>&1)
refused "$out" $? "" && counting client \
    && ok "checkpoint of a task with an established TCP connection, without --tcp-established: refused in one line, its peer's connection goes on" \
    || notok "checkpoint without --tcp-established" "$out"
nskiff checkpoint --tcp-established --image-path "$WORK/cp-db" db > "$WORK/cp-db.out" 2>&1 && ! nskiff state db > /dev/null 2>&1 && ! reaches web "$db_address" \
    && ok "network: db checkpointed (--tcp-established), gone, and unreachable" || notok "network: checkpoint of db" "$(tail -n 3 "$WORK/cp-db.out")"
nskiff restore -d --tcp-established --image-path "$WORK/cp-db" -b "$WORK/db" db > "$WORK/rs-db.out" 2>&1 && ok "network: db restored (--tcp-established)" \
    || notok "network: restore of db" "$(tail -n 5 "$WORK/rs-db.out")"
# (the client's segments sent while db was away are retransmitted with a growing backoff)
at=$(count_of client); i=0
until [ "$(count_of client)" -gt "${at:-0}" ] 2>/dev/null || [ $i -gt 40 ]; do i=$((i + 1)); sleep 1; done
[ -n "$at" ] && [ "$(count_of client)" -gt "$at" ] 2>/dev/null && ok "network: client's TCP connection outlived db's checkpoint and restore ($at, then $(count_of client))" \
    || notok "network: client's connection after the restore" "'$at', now '$(count_of client)', client $(nskiff state client 2>&1 | grep status) $(cat "$WORK/client-data/error" 2>&1)"
[ "$(address_of db)" = "$db_address" ] && ok "network: db keeps its address ($db_address)" || notok "network: db's address" "now '$(address_of db)', was $db_address"
i=0; until reaches web "$db_address" || [ $i -gt 10 ]; do i=$((i + 1)); sleep 0.3; done
reaches web "$db_address" && ok "network: web (its egress names group db) reaches the restored db's listener" || notok "network: web reaches db again" "no answer"
! reaches other "$db_address" && ok "network: other (not in web) still does not" || notok "network: other reaches db" "db's ingress rule is gone"
for task in db web other client; do nskiff delete -f $task > /dev/null 2>&1; done
[ -z "$(ip -n skiff-cpnode -o link show type veth 2>/dev/null)" ] && ok "network: no task veth left" || notok "network: veths left" "$(ip -n skiff-cpnode -o link show type veth)"
ip netns delete skiff-cpnode

# --- podman container checkpoint / restore, and --export / --import, skiff as its runtime ---
# (podman's section of checks.sh has imported skiff-busybox; conmon's pipes are the
# container's standard descriptors, handed back on restore)
PODMAN="podman --runtime $SKIFF"
$PODMAN run -d --name pcr --network none skiff-busybox sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done' \
    > "$WORK/pcr.out" 2>&1 < /dev/null || notok "podman checkpoint: the counter runs" "$(tail -n 3 "$WORK/pcr.out")"
pcount() { nonempty $PODMAN exec pcr cat /tmp/count; }
sleep 1
$PODMAN container checkpoint pcr > "$WORK/pcr-cp.out" 2>&1 && [ "$($PODMAN inspect -f '{{.State.Status}}' pcr)" = exited ] \
    && ok "podman container checkpoint" || notok "podman container checkpoint" "$(tail -n 5 "$WORK/pcr-cp.out")"
$PODMAN container restore pcr > "$WORK/pcr-rs.out" 2>&1 && [ "$($PODMAN inspect -f '{{.State.Status}}' pcr)" = running ] \
    && ok "podman container restore" || notok "podman container restore" "$(tail -n 5 "$WORK/pcr-rs.out")"
before=$(pcount); sleep 0.6; after=$(pcount)
[ -n "$before" ] && [ "$before" -gt 3 ] && [ "${after:-0}" -gt "$before" ] && ok "podman: the restored counter counts on ($before, $after)" \
    || notok "podman: the restored counter" "'$before' '$after'"
$PODMAN container checkpoint --export="$WORK/pcr.tar.gz" pcr > "$WORK/pcr-ex.out" 2>&1 && $PODMAN rm -f pcr > /dev/null 2>&1 \
    && ok "podman container checkpoint --export, then rm" || notok "podman checkpoint --export" "$(tail -n 5 "$WORK/pcr-ex.out")"
$PODMAN container restore --import="$WORK/pcr.tar.gz" > "$WORK/pcr-im.out" 2>&1 && [ "$($PODMAN inspect -f '{{.State.Status}}' pcr)" = running ] \
    && ok "podman container restore --import" || notok "podman restore --import" "$(tail -n 5 "$WORK/pcr-im.out")"
now=$(pcount)
[ -n "$now" ] && [ "$now" -ge "${after:-0}" ] && ok "podman: the imported counter counts on from the export ($now)" || notok "podman: the imported counter" "'$now' after '$after'"
$PODMAN rm -f pcr > /dev/null 2>&1

# --- containerd: a task checkpointed through the runc shim (skiff as its binary) into a
# checkpoint image, and a new container restored live from it ---
CTR="ctr run --snapshotter native --runc-binary $SKIFF --runc-systemd-cgroup"
image=$(ctr image ls -q | grep skiff-busybox | head -n 1)
$CTR -d --cgroup system.slice:containerd:ccr "$image" ccr sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done' \
    > "$WORK/ccr.out" 2>&1 < /dev/null || notok "containerd checkpoint: the counter runs" "$(tail -n 3 "$WORK/ccr.out")"
ccount_once() { ctr task exec --exec-id "count-$(cat /proc/sys/kernel/random/uuid)" ccr cat /tmp/count; }
ccount() { nonempty ccount_once; }
sleep 1
at=$(ccount 1)
ctr containers checkpoint --task ccr skiff.test/ccr-checkpoint:1 > "$WORK/ccr-cp.out" 2>&1 && ok "containerd: ctr containers checkpoint --task (the shim's checkpoint)" \
    || notok "containerd: checkpoint" "$(tail -n 5 "$WORK/ccr-cp.out")"
ctr task kill -s KILL ccr > /dev/null 2>&1; for i in $(seq 50); do ctr task ls 2>/dev/null | grep -q "ccr .*RUNNING" || break; sleep 0.1; done
ctr task rm ccr > /dev/null 2>&1; ctr container rm ccr > /dev/null 2>&1; ctr snapshot --snapshotter native rm ccr > /dev/null 2>&1
ctr containers restore --live ccr skiff.test/ccr-checkpoint:1 > "$WORK/ccr-rs.out" 2>&1 < /dev/null &
i=0; until ctr task ls 2>/dev/null | grep -q "ccr .*RUNNING" || [ $i -gt 100 ]; do i=$((i + 1)); sleep 0.1; done
now=$(ccount 2)
[ -n "$now" ] && [ -n "$at" ] && [ "$now" -ge "$at" ] && ok "containerd: ctr containers restore --live: the task counts on ($at, then $now)" \
    || notok "containerd: restore --live" "at '$at', now '$now': $(tail -n 5 "$WORK/ccr-rs.out")"
ctr task kill -s KILL ccr > /dev/null 2>&1; for i in $(seq 50); do ctr task ls 2>/dev/null | grep -q "ccr .*RUNNING" || break; sleep 0.1; done
ctr task rm ccr > /dev/null 2>&1; ctr container rm ccr > /dev/null 2>&1; ctr image rm skiff.test/ccr-checkpoint:1 > /dev/null 2>&1
