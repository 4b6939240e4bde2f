#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The cgroup v2 checks of skiff, proven with the kernel's own counters. Runs inside the test
# VM (vm/run), or directly on a host that is pure cgroup v2. Prints one TAP-style line per
# check ("ok - name" / "not ok - name: why") and "N passed, N failed" at the end.
#   SKIFF   the skiff binary (skiff-init beside it)
#   ROOTFS  a busybox root filesystem
SKIFF=${SKIFF:?} ROOTFS=${ROOTFS:?}
. "$(dirname "$0")/checks-lib.sh"

release() { touch "/proc/$(pid_of "$1")/root/tmp/go"; }
GATE='while [ ! -e /tmp/go ]; do sleep 0.05; done;'

# --- memory: a 32 MiB task that allocates 100 MiB is OOM-killed, and everyone can tell ---
bundle mem "[\"sh\", \"-c\", \"$GATE dd if=/dev/zero of=/dev/null bs=100M count=1; echo dd=\$?; sleep 60\"]" '{"memory": {"limit": 33554432}}'
skiff run -d -b "$WORK/mem" mem > "$WORK/mem.out" 2>&1
skiff events --interval 100ms mem > "$WORK/mem.events" 2>&1 &
events=$!
sleep 0.3
release mem
if wait_for "$WORK/mem.out" "dd=" 30 && grep -q "dd=137" "$WORK/mem.out"; then ok "memory: the hog is OOM-killed (SIGKILL)"; else notok "memory: the hog is OOM-killed" "$(cat "$WORK/mem.out")"; fi
kills=$(sed -n 's/^oom_kill //p' $CG/skiff-mem/memory.events)
if [ "${kills:-0}" -ge 1 ]; then ok "memory: memory.events oom_kill=$kills"; else notok "memory: memory.events oom_kill" "$(cat $CG/skiff-mem/memory.events)"; fi
if wait_for "$WORK/mem.events" '"type":"oom"' 5; then ok "memory: events reported the OOM"; else notok "memory: events reported the OOM" "$(head -c 300 "$WORK/mem.events")"; fi
peak=$(skiff stats --format json mem | sed -n 's/.*"peakMemoryBytes": *\([0-9]*\).*/\1/p')
if [ "${peak:-0}" -ge 25000000 ] && [ "${peak:-0}" -le 33554432 ]; then ok "memory: stats shows the peak ($peak bytes)"; else notok "memory: stats shows the peak" "peak=$peak"; fi
kill $events 2>/dev/null
skiff delete --force mem

# --- cpu: 20000/100000 gives a busy loop 0.6 s of CPU in 3 s (± 15%) ---
bundle cpu '["sh", "-c", "while :; do :; done"]' '{"cpu": {"quota": 20000, "period": 100000}}'
skiff run -d -b "$WORK/cpu" cpu
before=$(sed -n 's/^usage_usec //p' $CG/skiff-cpu/cpu.stat)
sleep 3
after=$(sed -n 's/^usage_usec //p' $CG/skiff-cpu/cpu.stat)
throttled=$(sed -n 's/^nr_throttled //p' $CG/skiff-cpu/cpu.stat)
used=$((after - before))
if [ $used -ge 510000 ] && [ $used -le 690000 ]; then ok "cpu: quota 20% gave ${used} us in 3 s"; else notok "cpu: quota 20% gives 0.6 s in 3 s" "used ${used} us"; fi
if [ "${throttled:-0}" -gt 0 ]; then ok "cpu: nr_throttled=$throttled"; else notok "cpu: nr_throttled > 0" "nr_throttled=$throttled"; fi
grep -q "^20000 100000" $CG/skiff-cpu/cpu.max && ok "cpu: cpu.max is 20000 100000" || notok "cpu: cpu.max" "$(cat $CG/skiff-cpu/cpu.max)"
# PSI: where the kernel keeps it, events --stats carries cpu, memory and blkio pressure; where
# it does not (booted with psi=0), no "psi" member at all (absent, not zero).
stats=$(skiff events --stats cpu)
psi=$(printf '%s' "$stats" | grep -o '"psi":{"some":{"avg10":[0-9.]*,"avg60":[0-9.]*,"avg300":[0-9.]*,"total":[0-9]*}' | wc -l)
if [ -e /proc/pressure/cpu ]; then
    [ "$psi" -eq 3 ] && ok "psi: events --stats has cpu, memory and io pressure" || notok "psi: events --stats has cpu, memory and io pressure" "$(printf '%s' "$stats" | head -c 600)"
else
    printf '%s' "$stats" | grep -q '"psi"' && notok "psi: absent where the kernel keeps none" "$stats" || ok "psi: absent where the kernel keeps none"
fi
skiff delete --force cpu

# --- pids: with pids.limit 10 a fork loop stops at 10 ---
bundle pids '["sh", "-c", "i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); echo $i; done"]' '{"pids": {"limit": 10}}'
last=$(skiff run -b "$WORK/pids" pids 2>/dev/null | tail -n 1)
if [ "$last" = "9" ]; then ok "pids: the shell and 9 children, then fork fails"; else notok "pids: fork loop stops at 10" "last child $last"; fi

# --- devices: a denied device cannot be opened (even by root with CAP_MKNOD); an allowed one can ---
caps='["CAP_KILL", "CAP_MKNOD", "CAP_DAC_OVERRIDE"]'
bundle dev-deny '["sh", "-c", "mknod /tmp/kmsg c 1 11 && echo hello > /tmp/kmsg && echo opened; head -c 1 /dev/zero > /dev/null && echo zero-ok"]' \
    '{"devices": [{"allow": false, "access": "rwm"}]}' '[]' "$caps"
out=$(skiff run -b "$WORK/dev-deny" dev-deny 2>&1)
case "$out" in *opened*) notok "devices: a denied device cannot be opened" "$out" ;; *"Operation not permitted"*) ok "devices: a denied device cannot be opened" ;; *) notok "devices: a denied device cannot be opened" "$out" ;; esac
case "$out" in *zero-ok*) ok "devices: /dev/zero (allowed by default) opens" ;; *) notok "devices: /dev/zero opens" "$out" ;; esac
bundle dev-allow '["sh", "-c", "mknod /tmp/kmsg c 1 11 && echo hello > /tmp/kmsg && echo opened"]' \
    '{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]}' '[]' "$caps"
out=$(skiff run -b "$WORK/dev-allow" dev-allow 2>&1)
case "$out" in *opened*) ok "devices: an allowed device opens" ;; *) notok "devices: an allowed device opens" "$out" ;; esac

# --- update raises the memory limit of a running task, and the hog then survives ---
bundle upd "[\"sh\", \"-c\", \"$GATE dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=\$?; sleep 60\"]" '{"memory": {"limit": 33554432}}'
skiff run -d -b "$WORK/upd" upd > "$WORK/upd.out" 2>&1
skiff update --memory 256m upd
[ "$(cat $CG/skiff-upd/memory.max)" = "268435456" ] && ok "update: memory.max is now 256 MiB" || notok "update: memory.max" "$(cat $CG/skiff-upd/memory.max)"
release upd
if wait_for "$WORK/upd.out" "dd=" 30 && grep -q "dd=0" "$WORK/upd.out"; then ok "update: the hog survives"; else notok "update: the hog survives" "$(cat "$WORK/upd.out")"; fi
skiff delete --force upd

# --- pause freezes (a counter stops), resume thaws ---
bundle frz '["sh", "-c", "while :; do echo x >> /tmp/count; done"]' '{}'
skiff run -d -b "$WORK/frz" frz
sleep 0.5
count=/proc/$(pid_of frz)/root/tmp/count
skiff pause frz
state=$(skiff state frz | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')
a=$(wc -c < "$count"); sleep 0.5; b=$(wc -c < "$count")
if [ "$state" = paused ] && [ "$a" = "$b" ]; then ok "pause: state paused, counter stopped at $a"; else notok "pause freezes" "state=$state $a -> $b"; fi
skiff resume frz
sleep 0.5; c=$(wc -c < "$count")
if [ "$c" -gt "$b" ]; then ok "resume: counter moves again ($b -> $c)"; else notok "resume thaws" "$b -> $c"; fi
skiff delete --force frz

# --- unified keys land in the files; born inside the cgroup ---
bundle uni '["sleep", "60"]' '{"unified": {"memory.high": "50M", "pids.max": "33"}}'
skiff run -d -b "$WORK/uni" uni
[ "$(cat $CG/skiff-uni/memory.high)" = "52428800" ] && ok "unified: memory.high = 50M" || notok "unified: memory.high" "$(cat $CG/skiff-uni/memory.high)"
[ "$(cat $CG/skiff-uni/pids.max)" = "33" ] && ok "unified: pids.max = 33" || notok "unified: pids.max" "$(cat $CG/skiff-uni/pids.max)"
grep -q "^0::/skiff-uni$" /proc/$(pid_of uni)/cgroup && ok "the process is in its cgroup" || notok "the process is in its cgroup" "$(cat /proc/$(pid_of uni)/cgroup)"
skiff delete --force uni
[ ! -e $CG/skiff-uni ] && ok "delete removes the cgroup" || notok "delete removes the cgroup" "$CG/skiff-uni left"

# --- scheduling: a real-time policy on cgroup v2 (no per-cgroup real-time budget on this
#     kernel), the I/O priority and the personality, as the process sees them ---
bundle sched '["sh", "-c", "cut -d\" \" -f40,41 /proc/self/stat; ionice; uname -m"]' '{"pids": {"limit": 20}}'
sed -i 's|"cwd": "/",|"cwd": "/", "scheduler": {"policy": "SCHED_RR", "priority": 3}, "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 2},|; s|"linux": {|"linux": {"personality": {"domain": "LINUX32"}, |' "$WORK/sched/config.json"
out=$(skiff run -b "$WORK/sched" sched 2>&1 | tr '\n' ' ')
[ "$out" = "3 2 best-effort: prio 2 i686 " ] && ok "scheduling: SCHED_RR 3, best-effort 2 and LINUX32 in the container" || notok "scheduling: SCHED_RR, ionice, LINUX32" "$out"

# --- bad input: a clear error naming the field, nothing left behind ---
bundle bad '["true"]' '{"unified": {"memory.bogus": "1"}}'
out=$(skiff run -b "$WORK/bad" bad 2>&1)
case "$out" in *"linux.resources.unified.memory.bogus"*) ok "bad input: unknown unified file is named" ;; *) notok "bad input: unknown unified file" "$out" ;; esac
[ ! -e $CG/skiff-bad ] && [ ! -e $STATE/bad ] && ok "bad input: nothing left" || notok "bad input: nothing left" "$(ls -d $CG/skiff-bad $STATE/bad 2>&1)"

# --- AppArmor: a profile that denies a path is enforced on the container's process ---
# Debian's kernel enables AppArmor; the VM has Debian's apparmor_parser (vm/run).
aa_bundle() {  # NAME PROFILE-FIELD
    mkdir -p "$WORK/$1"
    cat > "$WORK/$1/config.json" <<JSON
{"ociVersion": "1.2.0",
 "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "cat /proc/self/attr/current; cat /secret"],
             "env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"], "cwd": "/" $2},
 "root": {"path": "$ROOTFS"},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/secret", "type": "bind", "source": "$WORK/secret", "options": ["ro"]}],
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}
JSON
}
if [ -e /sys/kernel/security/apparmor/.replace ] && command -v apparmor_parser >/dev/null; then
    echo "the secret" > "$WORK/secret"
    cat > "$WORK/profile" <<'PROFILE'
profile skiff-deny-secret flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  unix,
  ptrace,
  mount,
  umount,
  pivot_root,
  deny /secret r,
}
PROFILE
    if out=$(apparmor_parser -r -K "$WORK/profile" 2>&1); then ok "apparmor: profile loaded"; else notok "apparmor: profile loaded" "$out"; fi
    aa_bundle aa ', "apparmorProfile": "skiff-deny-secret"'
    out=$(skiff run -b "$WORK/aa" aa 2>&1)
    case "$out" in *"skiff-deny-secret (enforce)"*) ok "apparmor: the process runs under its profile" ;; *) notok "apparmor: the process runs under its profile" "$out" ;; esac
    case "$out" in *"the secret"*) notok "apparmor: the denied path is refused" "$out" ;; *"ermission denied"*) ok "apparmor: the denied path is refused" ;; *) notok "apparmor: the denied path is refused" "$out" ;; esac
    aa_bundle noaa ''
    out=$(skiff run -b "$WORK/noaa" noaa 2>&1)
    case "$out" in *"the secret"*) ok "apparmor: without the profile the path is readable" ;; *) notok "apparmor: without the profile the path is readable" "$out" ;; esac
    aa_bundle aa-missing ', "apparmorProfile": "skiff-no-such-profile"'
    out=$(skiff run -b "$WORK/aa-missing" aa-missing 2>&1)
    case "$out" in *"process.apparmorProfile"*"not loaded"*) ok "apparmor: a profile that is not loaded is refused" ;; *) notok "apparmor: a profile that is not loaded is refused" "$out" ;; esac
    [ ! -e $STATE/aa-missing ] && [ ! -e $CG/skiff-aa-missing ] && ok "apparmor: nothing left after the refusal" || notok "apparmor: nothing left" "$(ls -d $STATE/aa-missing $CG/skiff-aa-missing 2>&1)"
    apparmor_parser -R "$WORK/profile" >/dev/null 2>&1
else
    notok "apparmor" "not enabled in this kernel, or no apparmor_parser (vm/run copies Debian's)"
fi

# --- parents as found: the controllers skiff turned on above its cgroups are off again ---
before=$(cat $CG/cgroup.subtree_control)
bundle par '["true"]' '{"pids": {"limit": 50}}'
skiff run -b "$WORK/par" par
after=$(cat $CG/cgroup.subtree_control)
if [ "$before" = "$after" ]; then ok "controllers: the root's subtree_control is as found (\"$after\")"; else notok "controllers: the root's subtree_control is as found" "\"$before\" -> \"$after\""; fi

finish
