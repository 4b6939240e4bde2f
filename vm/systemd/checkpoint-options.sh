#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# runc's CRIU options, each on a task that needs it: a dump refused without the option (in one
# line, the task running on), then the dump and restore with it, the restored task doing what it
# did. Sourced by checkpoint.sh (its counter_bundle, count_of, counting, scope_of).

# py_bundle NAME: counter_bundle's container (limits, masked paths, seccomp, /data) running
# $WORK/NAME-py/main.py with the VM's own Python: the busybox root has none, so the VM's /usr
# is bound read-only at /opt and the script's directory at /srv. The script starts with
# PRELUDE: its standard descriptors the container's /dev/null, and `count(i)` to /tmp/count.
py_bundle() {
    counter_bundle "$1"
    mkdir -p "$WORK/$1-py"
    loader=/opt/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
    sed -i "s|\"args\": \[[^]]*\]|\"args\": [\"$loader\", \"--library-path\", \"/opt/lib/x86_64-linux-gnu\", \"/opt/bin/python3\", \"/srv/main.py\"]|; \
        s|\"env\": \[|\"env\": [\"PYTHONHOME=/opt\", |; \
        s|\"mounts\": \[|\"mounts\": [{\"destination\": \"/opt\", \"type\": \"bind\", \"source\": \"/usr\", \"options\": [\"rbind\", \"ro\"]}, {\"destination\": \"/srv\", \"type\": \"bind\", \"source\": \"$WORK/$1-py\", \"options\": [\"rbind\", \"ro\"]},|" \
        "$WORK/$1/config.json"
    { cat <<'PY'
import os, time
null = os.open('/dev/null', os.O_RDWR)
for number in (0, 1, 2):
    os.dup2(null, number)
def count(i):
    with open('/tmp/count', 'w') as out:
        out.write(str(i))
PY
    cat; } > "$WORK/$1-py/main.py"
}
# refused OUTPUT STATUS WORDS: the dump failed, in one line that says WORDS
refused() {
    [ "$2" -ne 0 ] && [ "$(echo "$1" | wc -l)" = 1 ] && case "$1" in *"$3"*) true ;; *) false ;; esac
}

# --file-locks: a task holding a flock
py_bundle fl <<'PY'
import fcntl
lock = open('/tmp/locked', 'w')
fcntl.flock(lock, fcntl.LOCK_EX)
i = 0
while True:
    i += 1
    count(i)
    time.sleep(0.2)
PY
skiff run -d -b "$WORK/fl" fl > "$WORK/fl.out" 2>&1 || notok "--file-locks: the task runs" "$(cat "$WORK/fl.out")"
counting fl || notok "--file-locks: the task counts" "'$(count_of fl)' $(skiff state fl 2>&1 | grep status)"
out=$(skiff checkpoint --leave-running --image-path "$WORK/fl-refused" fl 2>&1)
refused "$out" $? "lock" && counting fl && ok "checkpoint of a task holding a flock, without --file-locks: refused in one line, the task runs on" \
    || notok "checkpoint without --file-locks" "$out"
skiff checkpoint --file-locks --image-path "$WORK/fl-cp" fl > "$WORK/fl-cp.out" 2>&1 \
    && skiff restore -d --file-locks --image-path "$WORK/fl-cp" -b "$WORK/fl" fl > "$WORK/fl-rs.out" 2>&1 \
    && ok "checkpoint and restore --file-locks" || notok "checkpoint and restore --file-locks" "$(tail -n 3 "$WORK/fl-cp.out" "$WORK/fl-rs.out")"
pid=$(pid_of fl)
counting fl && grep -Eq "FLOCK +ADVISORY +WRITE +$pid " /proc/locks && ok "--file-locks: the restored task ($pid) holds its flock again, counting on" \
    || notok "--file-locks: the restored lock" "pid '$pid', count '$(count_of fl)': $(grep FLOCK /proc/locks)"
skiff delete -f fl > /dev/null 2>&1

# --manage-cgroups-mode: whatever CRIU does with cgroups, the restored task is in its own scope
# (skiff's --cgroup-root) under its limits; strict (CRIU makes every cgroup, and fails on one
# that exists) checkpoints, but its restore is refused: skiff makes the cgroup first
counter_bundle mcm
skiff run -d -b "$WORK/mcm" mcm > "$WORK/mcm.out" 2>&1 || notok "--manage-cgroups-mode: the counter runs" "$(cat "$WORK/mcm.out")"
for mode in ignore full strict; do
    sleep 0.5
    restore_mode=$mode
    skiff checkpoint --manage-cgroups-mode $mode --image-path "$WORK/mcm-$mode" mcm > "$WORK/mcm-cp-$mode.out" 2>&1 \
        || notok "--manage-cgroups-mode $mode: checkpoint" "$(tail -n 3 "$WORK/mcm-cp-$mode.out" | tr '\n' ' ')"
    if [ $mode = strict ]; then
        out=$(skiff restore -d --manage-cgroups-mode strict --image-path "$WORK/mcm-$mode" -b "$WORK/mcm" mcm 2>&1)
        refused "$out" $? "--manage-cgroups-mode: strict" && ! skiff state mcm > /dev/null 2>&1 && [ ! -d "$(scope_of mcm)" ] \
            && ok "restore --manage-cgroups-mode strict: refused in one line, nothing made" || notok "restore --manage-cgroups-mode strict" "$out"
        restore_mode=soft
    fi
    skiff restore -d --manage-cgroups-mode $restore_mode --image-path "$WORK/mcm-$mode" -b "$WORK/mcm" mcm > "$WORK/mcm-rs-$mode.out" 2>&1 \
        || notok "--manage-cgroups-mode $mode: restore ($restore_mode)" "$(tail -n 3 "$WORK/mcm-rs-$mode.out" | tr '\n' ' ')"
    pid=$(pid_of mcm)
    grep -q "^0::/system.slice/skiff-mcm.scope$" /proc/$pid/cgroup 2>/dev/null && [ "$(cat "$(scope_of mcm)/memory.max" 2>&1)" = 67108864 ] \
        && [ "$(cat "$(scope_of mcm)/pids.max" 2>&1)" = 20 ] && counting mcm \
        && ok "--manage-cgroups-mode $mode: checkpointed, restored ($restore_mode) into its scope, memory.max and pids.max its own, counting on" \
        || notok "--manage-cgroups-mode $mode: the restored task's cgroup" "$(cat /proc/$pid/cgroup 2>&1) $(cat "$(scope_of mcm)/memory.max" 2>&1)"
done
skiff delete -f mcm > /dev/null 2>&1

# --ext-unix-sk: a task sending datagrams to a socket of the VM's (bound in): the restored
# task's socket is connected to it again, and its count arrives on from where it was
mkdir -p "$WORK/ext"
python3 -c '
import socket, sys
server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
server.bind(sys.argv[1] + "/log.sock")
with open(sys.argv[1] + "/received", "a") as out:
    while True:
        out.write(server.recv(64).decode() + "\n")
        out.flush()
' "$WORK/ext" > "$WORK/ext-server.out" 2>&1 &
ext_server=$!
i=0; until [ -S "$WORK/ext/log.sock" ] || [ $i -gt 50 ]; do i=$((i + 1)); sleep 0.1; done
py_bundle us <<'PY'
import socket
peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
peer.connect(open('/srv/peer').read().strip())
i = 0
while True:
    i += 1
    count(i)
    try:
        peer.send(str(i).encode())
    except OSError:
        pass
    time.sleep(0.2)
PY
# (bound at the same path: the restore connects the task's socket to its peer's name, which
# is the name the VM's server bound; under the container's /tmp, a tmpfs of its own)
echo "$WORK/ext/log.sock" > "$WORK/us-py/peer"
sed -i "s|{\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}|&, {\"destination\": \"$WORK/ext\", \"type\": \"bind\", \"source\": \"$WORK/ext\", \"options\": [\"rbind\"]}|" "$WORK/us/config.json"
received() { tail -n 1 "$WORK/ext/received" 2>/dev/null; }
skiff run -d -b "$WORK/us" us > "$WORK/us.out" 2>&1 || notok "--ext-unix-sk: the task runs" "$(cat "$WORK/us.out")"
counting us && [ -n "$(received)" ] || notok "--ext-unix-sk: the task sends" "'$(received)' $(cat "$WORK/ext-server.out")"
out=$(skiff checkpoint --leave-running --image-path "$WORK/us-refused" us 2>&1)
refused "$out" $? "" && counting us && ok "checkpoint of a task connected to a socket outside it, without --ext-unix-sk: refused in one line, the task runs on" \
    || notok "checkpoint without --ext-unix-sk" "$out"
skiff checkpoint --ext-unix-sk --image-path "$WORK/us-cp" us > "$WORK/us-cp.out" 2>&1 || notok "checkpoint --ext-unix-sk" "$(tail -n 3 "$WORK/us-cp.out")"
last=$(received)
skiff restore -d --ext-unix-sk --image-path "$WORK/us-cp" -b "$WORK/us" us > "$WORK/us-rs.out" 2>&1 || notok "restore --ext-unix-sk" "$(tail -n 3 "$WORK/us-rs.out")"
i=0; until [ "$(received)" -gt "${last:-0}" ] 2>/dev/null || [ $i -gt 100 ]; do i=$((i + 1)); sleep 0.1; done
[ -n "$last" ] && [ "$(received)" -gt "$last" ] 2>/dev/null && ok "checkpoint and restore --ext-unix-sk: the task's datagrams arrive again, counting on ($last, then $(received))" \
    || notok "--ext-unix-sk: after the restore" "last '$last', now '$(received)'"
skiff delete -f us > /dev/null 2>&1
kill $ext_server 2>/dev/null; wait $ext_server 2>/dev/null

# --empty-ns network: a task with a network namespace of its own (lo brought up from outside);
# restored without the option, lo is up again; with it, CRIU leaves the new namespace empty
counter_bundle en
sed -i 's|"namespaces": \[|"namespaces": [{"type": "network"}, |' "$WORK/en/config.json"
skiff run -d -b "$WORK/en" en > "$WORK/en.out" 2>&1 || notok "--empty-ns: the task runs" "$(cat "$WORK/en.out")"
nsenter -t "$(pid_of en)" -n ip link set lo up
lo_of() { nsenter -t "$(pid_of "$1")" -n ip -o addr show dev lo 2>&1 | grep -c "inet 127.0.0.1"; }
skiff checkpoint --image-path "$WORK/en-cp" en > "$WORK/en-cp.out" 2>&1 || notok "--empty-ns: checkpoint" "$(tail -n 3 "$WORK/en-cp.out")"
skiff restore -d --image-path "$WORK/en-cp" -b "$WORK/en" en > "$WORK/en-rs.out" 2>&1 && [ "$(lo_of en)" = 1 ] && counting en \
    && ok "restore without --empty-ns: the network namespace as it was (lo up, 127.0.0.1)" || notok "restore of a network namespace" "$(tail -n 3 "$WORK/en-rs.out") lo: $(lo_of en)"
skiff delete -f en > /dev/null 2>&1
skiff restore -d --empty-ns network --image-path "$WORK/en-cp" -b "$WORK/en" en > "$WORK/en-rs2.out" 2>&1 && [ "$(lo_of en)" = 0 ] && counting en \
    && [ "$(readlink /proc/"$(pid_of en)"/ns/net)" != "$(readlink /proc/self/ns/net)" ] \
    && ok "restore --empty-ns network: a new, empty network namespace (lo down), counting on" || notok "restore --empty-ns network" "$(tail -n 3 "$WORK/en-rs2.out") lo: $(lo_of en)"
skiff delete -f en > /dev/null 2>&1

# A network namespace joined by path: external to the checkpoint (CRIU saves none of it), joined
# again by the restore
ip netns add skiff-cpjoin
counter_bundle jn
sed -i 's|"namespaces": \[|"namespaces": [{"type": "network", "path": "/run/netns/skiff-cpjoin"}, |' "$WORK/jn/config.json"
skiff run -d -b "$WORK/jn" jn > "$WORK/jn.out" 2>&1 || notok "a joined network namespace: the task runs" "$(cat "$WORK/jn.out")"
sleep 0.5
skiff checkpoint --image-path "$WORK/jn-cp" jn > "$WORK/jn-cp.out" 2>&1 && skiff restore -d --image-path "$WORK/jn-cp" -b "$WORK/jn" jn > "$WORK/jn-rs.out" 2>&1 \
    && [ "$(stat -L -c %i /proc/"$(pid_of jn)"/ns/net)" = "$(stat -L -c %i /run/netns/skiff-cpjoin)" ] && counting jn \
    && ok "a network namespace joined by path: checkpointed as external, the restored task is in it again, counting on" \
    || notok "a joined network namespace" "$(tail -n 3 "$WORK/jn-cp.out" "$WORK/jn-rs.out" | tr '\n' ' ')"
skiff delete -f jn > /dev/null 2>&1
ip netns delete skiff-cpjoin

# A task whose standard descriptors are a terminal outside it (script(1)'s pty, which its run
# was given): the terminal is an external one to CRIU, handed back on restore from the
# restoring skiff's own; with --shell-job too, as a shell's user passes it
sbundle sj '["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; echo $i; sleep 0.2; done"]' '{}'
in_terminal() { script -qec "$1; sleep 600" /dev/null < /dev/null > "$2" 2>&1 & }
in_terminal "$SKIFF $SKIFF_FLAGS --root $STATE run -d -b $WORK/sj sj" "$WORK/sj-terminal1.out"
first_terminal=$!
counting sj || notok "shell job: the task runs in a terminal" "$(tail -c 200 "$WORK/sj-terminal1.out")"
skiff checkpoint --leave-running --image-path "$WORK/sj-lr" sj > "$WORK/sj-lr.out" 2>&1 && counting sj \
    && ok "checkpoint --leave-running of a task on a terminal outside it: its terminal is CRIU's external tty" \
    || notok "checkpoint of a task on an outside terminal" "$(tail -n 3 "$WORK/sj-lr.out" | tr '\n' ' ')"
skiff checkpoint --shell-job --image-path "$WORK/sj-cp" sj > "$WORK/sj-cp.out" 2>&1 || notok "checkpoint --shell-job" "$(tail -n 3 "$WORK/sj-cp.out" | tr '\n' ' ')"
in_terminal "$SKIFF $SKIFF_FLAGS --root $STATE restore -d --shell-job --image-path $WORK/sj-cp -b $WORK/sj sj > $WORK/sj-rs.out 2>&1" "$WORK/sj-terminal2.out"
second_terminal=$!
i=0; until skiff state sj > /dev/null 2>&1 || [ $i -gt 100 ]; do i=$((i + 1)); sleep 0.1; done
last=$(count_of sj)
counting sj && wait_for "$WORK/sj-terminal2.out" "^$((last + 2))" 10 \
    && ok "checkpoint and restore --shell-job: the task counts on, on the restoring skiff's terminal" \
    || notok "restore --shell-job" "$(tail -n 3 "$WORK/sj-rs.out" | tr '\n' ' ') terminal: $(tail -c 100 "$WORK/sj-terminal2.out")"
skiff delete -f sj > /dev/null 2>&1
kill $first_terminal $second_terminal 2>/dev/null

# --- a task with a terminal (process.terminal): checkpointed with its pty's master outside
# (a console socket's receiver, as conmon), restored with --console-socket on a new pty that
# is /dev/pts/0 of its own devpts again; and in the foreground, skiff relaying the terminal ---
# The receiver: each master it is sent is read into tty.out; lines written to tty.cmd go to
# the newest one.
mkfifo "$WORK/tty.cmd"
python3 -c '
import os, select, socket, sys
path, fifo, out_path = sys.argv[1:4]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(4)
commands = os.open(fifo, os.O_RDWR)
out = open(out_path, "ab", buffering=0)
masters = []
while True:
    for ready in select.select([server, commands] + masters, [], [])[0]:
        if ready is server:
            connection = server.accept()[0]
            name, fds = socket.recv_fds(connection, 64, 1)[:2]
            connection.close()
            masters += fds
            out.write(b"\n[master " + name + b"]\n")
        elif ready == commands:
            data = os.read(commands, 4096)
            if masters:
                os.write(masters[-1], data)
        else:
            try:
                data = os.read(ready, 4096)
            except OSError:
                data = b""
            if data:
                out.write(data)
            else:
                masters.remove(ready)
                os.close(ready)
' "$WORK/console.sock" "$WORK/tty.cmd" "$WORK/tty.out" > "$WORK/receiver.out" 2>&1 &
receiver=$!
i=0; until [ -S "$WORK/console.sock" ] || [ $i -gt 50 ]; do i=$((i + 1)); sleep 0.1; done
sbundle tt '["sh"]' '{"memory": {"limit": 67108864}}'
sed -i 's|"process": {|"process": {"terminal": true, |; s|{"destination": "/tmp", "type": "tmpfs"|{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}, &|' \
    "$WORK/tt/config.json"
say() { echo "$1" > "$WORK/tty.cmd"; }
skiff run -d --console-socket "$WORK/console.sock" -b "$WORK/tt" tt > "$WORK/tt.out" 2>&1 || notok "terminal: the shell runs" "$(cat "$WORK/tt.out")"
say 'x=$((6*7)); echo set-$x $(tty)'
wait_for "$WORK/tty.out" "set-42 /dev/pts/0" 10 && ok "terminal: the shell answers on its console socket's pty" || notok "terminal: the shell" "$(tail -c 300 "$WORK/tty.out")"
skiff checkpoint --image-path "$WORK/tt-cp" tt > "$WORK/tt-cp.out" 2>&1 && ! skiff state tt > /dev/null 2>&1 \
    && ok "terminal: checkpoint of a task whose pty master is outside it" || notok "terminal: checkpoint" "$(tail -n 3 "$WORK/tt-cp.out")"
out=$(skiff restore -d --image-path "$WORK/tt-cp" -b "$WORK/tt" tt 2>&1); status=$?
[ $status -ne 0 ] && [ "$(echo "$out" | wc -l)" = 1 ] && case "$out" in *"--console-socket"*) true ;; *) false ;; esac \
    && ! skiff state tt > /dev/null 2>&1 && [ ! -d "$(scope_of tt)" ] \
    && ok "terminal: restore -d without --console-socket: one line, nothing made" || notok "terminal: restore without a console socket" "$status: $out"
skiff restore -d --console-socket "$WORK/console.sock" --image-path "$WORK/tt-cp" -b "$WORK/tt" tt > "$WORK/tt-rs.out" 2>&1 \
    && ok "terminal: restore --console-socket" || notok "terminal: restore --console-socket" "$(tail -n 5 "$WORK/tt-rs.out")"
say 'echo restored-$x $(tty) $(ls /dev/pts | tr "\n" " ")'
wait_for "$WORK/tty.out" "restored-42 /dev/pts/0 0 ptmx" 10 \
    && ok "terminal: the restored shell (its variable kept) answers on the new master, its tty /dev/pts/0 of its own devpts" \
    || notok "terminal: the restored shell" "$(tail -c 300 "$WORK/tty.out")"
skiff delete -f tt > /dev/null 2>&1
# in the foreground: skiff relays the new pty (its input from skiff's stdin) and returns the exit status
out=$(printf 'echo foreground-$x\nexit 3\n' | skiff restore --image-path "$WORK/tt-cp" -b "$WORK/tt" tt2 2>&1); status=$?
[ $status = 3 ] && case "$out" in *foreground-42*) true ;; *) false ;; esac && ! skiff state tt2 > /dev/null 2>&1 \
    && ok "terminal: a foreground restore relays the terminal and returns the shell's exit status (3)" || notok "terminal: foreground restore" "$status: $out"
kill $receiver 2>/dev/null; wait $receiver 2>/dev/null
