#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The systemd cgroup driver on a real systemd host: Debian 12 with systemd as PID 1 on pure
# cgroup v2 (vm/systemd/run boots it and runs this from its second disk). Prints one TAP-style
# line per check ("ok - name" / "not ok - name: why"), `systemctl status` of a skiff scope
# ("  | " lines), and "N passed, N failed".
P=/payload
SKIFF=$P/skiff ROOTFS=$P/rootfs SKIFF_FLAGS=--systemd-cgroup
. "$P/checks-lib.sh"
hold_perf_context_switch_hook
echo "SKIFF-VM-START systemd $(systemctl --version | head -n 1 | cut -d' ' -f2), $(systemctl is-system-running), $(stat -fc %T $CG), kernel $(uname -r)"
echo "SKIFF-VM-START clients: $(podman --version), containerd $(containerd --version | cut -d' ' -f3), $(dockerd --version 2>&1 | cut -d, -f1)"

# A module of the VM's kernel: the machine's copy on the payload (Debian 12 boots the machine's
# kernel, with no modules of its own), or the image's own (Debian 13).
load_module() {
    insmod $P/modules/$1.ko 2>/dev/null || modprobe "$(basename $1)" 2>/dev/null || grep -q "^$(basename $1) " /proc/modules || notok "loading $1" "insmod and modprobe failed"
}

# Every container here has a read-only root; bundle's 6th argument is its cgroupsPath.
sbundle() { bundle "$1" "$2" "$3" '[]' '["CAP_KILL"]' "$4" true; }

# --- a scope in system.slice, limits as properties, systemctl knows it ---
sbundle web '["sh", "-c", "echo ready; sleep 300"]' '{"memory": {"limit": 67108864}, "pids": {"limit": 20}, "cpu": {"quota": 50000, "period": 100000}, "devices": [{"allow": false, "access": "rwm"}]}'
# (A detached container keeps its stdio: never a pipe the checks wait on.)
skiff run -d -b "$WORK/web" web > "$WORK/web.out" 2>&1 && ok "run -d under --systemd-cgroup" || notok "run -d under --systemd-cgroup" "$(cat "$WORK/web.out")"
unit=skiff-web.scope
if systemctl is-active -q $unit; then ok "systemd runs $unit"; else notok "systemd runs $unit" "$(systemctl status $unit 2>&1 | head -n 5)"; fi
systemctl status --no-pager $unit 2>&1 | head -n 8 | sed 's/^/  | /'
[ "$(systemctl show -p Slice --value $unit)" = system.slice ] && ok "in system.slice" || notok "in system.slice" "$(systemctl show -p Slice --value $unit)"
[ "$(systemctl show -p Delegate --value $unit)" = yes ] && ok "Delegate=yes" || notok "Delegate=yes" "$(systemctl show -p Delegate --value $unit)"
[ "$(systemctl show -p MemoryMax --value $unit)" = 67108864 ] && ok "MemoryMax is a unit property" || notok "MemoryMax property" "$(systemctl show -p MemoryMax --value $unit)"
[ "$(systemctl show -p TasksMax --value $unit)" = 20 ] && ok "TasksMax is a unit property" || notok "TasksMax property" "$(systemctl show -p TasksMax --value $unit)"
[ "$(systemctl show -p DevicePolicy --value $unit)" = strict ] && ok "DevicePolicy=strict" || notok "DevicePolicy" "$(systemctl show -p DevicePolicy --value $unit)"
systemctl show -p DeviceAllow --value $unit | grep -q "/dev/char/1:3 rwm" && ok "DeviceAllow lists /dev/null (1:3)" || notok "DeviceAllow" "$(systemctl show -p DeviceAllow --value $unit)"
[ "$(cat $CG/system.slice/$unit/memory.max 2>&1)" = 67108864 ] && ok "memory.max in the scope's cgroup" || notok "memory.max in the scope" "$(cat $CG/system.slice/$unit/memory.max 2>&1)"
[ "$(cat $CG/system.slice/$unit/cpu.max 2>&1)" = "50000 100000" ] && ok "cpu.max 50000 100000" || notok "cpu.max" "$(cat $CG/system.slice/$unit/cpu.max 2>&1)"
pid=$(pid_of web)
grep -q "^0::/system.slice/$unit$" /proc/$pid/cgroup && ok "the container's process is in its scope" || notok "the process is in its scope" "$(cat /proc/$pid/cgroup)"
[ "$(skiff exec web cat /proc/1/cgroup 2>&1)" = "0::/" ] && ok "the container sees its scope as its root (cgroup namespace)" || notok "cgroup namespace" "$(skiff exec web cat /proc/1/cgroup 2>&1)"
# update: properties with SetUnitProperties, files for the rest
out=$(skiff update --memory 128m --pids-limit 30 web 2>&1) || notok "update" "$out"
[ "$(systemctl show -p MemoryMax --value $unit)" = 134217728 ] && ok "update sets MemoryMax through systemd" || notok "update MemoryMax" "$(systemctl show -p MemoryMax --value $unit)"
[ "$(cat $CG/system.slice/$unit/pids.max)" = 30 ] && ok "update: pids.max 30" || notok "update pids.max" "$(cat $CG/system.slice/$unit/pids.max)"
# ps, stats, pause, exec
skiff ps web | grep -q sleep && ok "ps lists the scope's processes" || notok "ps" "$(skiff ps web 2>&1)"
skiff stats --format json web | grep -q '"pids"' && ok "stats" || notok "stats" "$(skiff stats --format json web 2>&1 | head -c 200)"
skiff pause web && [ "$(skiff state web | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')" = paused ] && ok "pause" || notok "pause" "$(skiff state web)"
skiff resume web && ok "resume" || notok "resume" "failed"
[ "$(skiff exec web sh -c 'cat /proc/self/cgroup')" = "0::/" ] && ok "exec joins the scope" || notok "exec joins the scope" "$(skiff exec web cat /proc/self/cgroup 2>&1)"
skiff delete --force web
systemctl status $unit >/dev/null 2>&1; [ $? -eq 4 ] && ok "delete stops the unit (systemd no longer knows it)" || notok "delete stops the unit" "$(systemctl status $unit 2>&1 | head -n 3)"
[ ! -e $CG/system.slice/$unit ] && [ ! -e $STATE/web ] && ok "delete leaves no cgroup and no state" || notok "delete leaves nothing" "$(ls -d $CG/system.slice/$unit $STATE/web 2>&1)"

# --- the kernel enforces the limits: OOM kill counted, CPU throttled, fork stopped ---
sbundle hog '["sh", "-c", "sleep 0.5; dd if=/dev/zero of=/dev/null bs=100M count=1; echo dd=$?"]' '{"memory": {"limit": 33554432}}'
out=$(skiff run -b "$WORK/hog" hog 2>&1)
case "$out" in *dd=137*) ok "memory: a 100 MiB dd under 32 MiB is OOM-killed" ;; *) notok "memory: OOM kill" "$out" ;; esac
sbundle busy '["sh", "-c", "while :; do :; done"]' '{"cpu": {"quota": 20000, "period": 100000}}'
skiff run -d -b "$WORK/busy" busy > /dev/null 2>&1
sleep 2
throttled=$(sed -n 's/^nr_throttled //p' $CG/system.slice/skiff-busy.scope/cpu.stat)
[ "${throttled:-0}" -gt 0 ] && ok "cpu: throttled (nr_throttled=$throttled)" || notok "cpu: throttled" "nr_throttled=$throttled"
skiff delete --force busy
sbundle forks '["sh", "-c", "i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); echo $i; done"]' '{"pids": {"limit": 10}}'
last=$(skiff run -b "$WORK/forks" forks 2>/dev/null | tail -n 1)
[ "$last" = 9 ] && ok "pids: fork stops at the limit" || notok "pids: fork stops at the limit" "last child $last"

# --- kubepods-style slices are made with systemd's nesting ---
sbundle pod '["sleep", "300"]' '{"memory": {"limit": 67108864}}' "kubepods-burstable-pod1234.slice:cri-containerd:abc"
skiff run -d -b "$WORK/pod" pod > "$WORK/pod.out" 2>&1 || notok "run in kubepods-burstable-pod1234.slice" "$(cat "$WORK/pod.out")"
[ -d $CG/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-abc.scope ] \
    && ok "the scope sits in its nested slices" || notok "nested slices" "$(find $CG -name 'cri-containerd-abc.scope' 2>&1)"
skiff delete --force pod
[ ! -e $CG/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-abc.scope ] && ok "and goes on delete" || notok "the pod scope goes" "left"

# --- killed at any instant, then delete --force: no unit, no cgroup ---
sbundle killed '["true"]' '{"pids": {"limit": 10}}'
left=""
for delay in 0.005 0.02 0.05 0.1 0.2 0.4; do
    skiff create -b "$WORK/killed" killed >/dev/null 2>&1 &
    sleep $delay; kill -9 $! 2>/dev/null; wait $! 2>/dev/null
    skiff delete --force killed >/dev/null 2>&1
    systemctl list-units --all --no-legend 'skiff-killed.scope' | grep -q . && left="$left unit@$delay"
    [ -e $CG/system.slice/skiff-killed.scope ] && left="$left cgroup@$delay"
done
[ -z "$left" ] && ok "create killed at 6 instants, then delete --force: nothing left" || notok "killed creates" "$left"

# --- bad input: one line, nothing left ---
sbundle bad '["true"]' '{}' "system.slice:skiff:bad name"
out=$(skiff run -b "$WORK/bad" bad 2>&1)
case "$out" in "skiff: linux.cgroupsPath: the unit \"skiff-bad name.scope\" has characters systemd does not allow"*) ok "a bad unit name is named" ;; *) notok "bad unit name" "$out" ;; esac
[ ! -e $STATE/bad ] && ! systemctl list-units --all --no-legend | grep -q "skiff-bad" && ok "and nothing is left" || notok "bad input left something" "$(ls $STATE)"
# A unit of someone else's that has no cgroup (a scope that failed stays loaded) is not seen
# by the plan's check; starting the container's scope then fails, and skiff leaves the unit
# as it was: not stopped, not reset.
systemd-run --quiet --scope --unit=skiff-others -p RuntimeMaxSec=1 sleep 30 > /dev/null 2>&1
if systemctl is-failed -q skiff-others.scope; then
    sbundle others '["true"]' '{}' "system.slice:skiff:others"
    out=$(skiff run -b "$WORK/others" others 2>&1)
    case "$out" in *"skiff-others.scope"*) ok "a unit of others' with the container's name: create fails" ;; *) notok "others' unit" "$out" ;; esac
    systemctl is-failed -q skiff-others.scope && [ ! -e $STATE/others ] && ok "and the unit is left as it was" || notok "others' unit changed" "$(systemctl status skiff-others.scope 2>&1 | head -3)"
    systemctl reset-failed skiff-others.scope
else
    notok "a failed scope to test with" "$(systemctl status skiff-others.scope 2>&1 | head -3)"
fi
# A slice as the container's unit (runc's library would make it): refused, no slice made.
sbundle slice '["true"]' '{}' "system.slice:skiff:user-4242.slice"
out=$(skiff run -b "$WORK/slice" slice 2>&1)
case "$out" in "skiff: linux.cgroupsPath: \"system.slice:skiff:user-4242.slice\": the name is a slice"*) ok "a slice as the unit is refused" ;; *) notok "slice as the unit" "$out" ;; esac
[ ! -e $STATE/slice ] && ! systemctl list-units --all --no-legend | grep -q "user-4242.slice" && ok "and no slice is made" || notok "slice as the unit left something" "$(systemctl list-units --all --no-legend | grep user-4242)"

# --- rootless: the user's own systemd manager makes the scope, and its limits hold ---
# (lingering starts it when logind runs; started here too, so the checks need not wait on that)
systemctl start user@1000.service > "$WORK/user-manager.out" 2>&1 || notok "the user's manager starts" "$(tail -n 3 "$WORK/user-manager.out")"
# Its socket comes first; it answers once its own start-up is done (slow under TCG).
for i in $(seq 300); do [ -S /run/user/1000/systemd/private ] && [ "$(systemctl is-active user@1000.service)" = active ] && break; sleep 0.2; done
# "active" can come before the manager answers calls on a loaded host (a CI run saw skiff's
# Subscribe time out after 30 s): wait until it says its start-up is over.
timeout 180 runuser -u skiffuser -- env XDG_RUNTIME_DIR=/run/user/1000 systemctl --user is-system-running --wait > /dev/null 2>&1 || true
mkdir -p "$WORK/rootless"
cat > "$WORK/rootless/config.json" <<JSON
{"ociVersion": "1.2.0",
 "process": {"user": {"uid": 0, "gid": 0}, "args": ["sleep", "300"], "env": ["PATH=/bin"], "cwd": "/"},
 "root": {"path": "$ROOTFS", "readonly": true},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "user"}, {"type": "ipc"}, {"type": "uts"}],
           "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}], "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
           "resources": {"pids": {"limit": 30}, "memory": {"limit": 67108864}}}}
JSON
chmod -R a+rX "$WORK"
asuser() { runuser -u skiffuser -- env XDG_RUNTIME_DIR=/run/user/1000 "$SKIFF" --systemd-cgroup "$@"; }
asuser run -d -b "$WORK/rootless" rl > "$WORK/rootless.out" 2>&1 < /dev/null && ok "rootless run -d under --systemd-cgroup (uid 1000)" || notok "rootless run -d" "$(cat "$WORK/rootless.out")"
userscope=$CG/user.slice/user-1000.slice/user@1000.service/user.slice/skiff-rl.scope
[ -d "$userscope" ] && ok "rootless: the scope is the user manager's (user@1000.service/user.slice/skiff-rl.scope)" || notok "rootless scope" "$(find $CG -name 'skiff-rl.scope' 2>&1)"
[ "$(cat "$userscope/pids.max" 2>&1)" = 30 ] && ok "rootless: pids.max 30, a real limit" || notok "rootless pids.max" "$(cat "$userscope/pids.max" 2>&1)"
[ "$(cat "$userscope/memory.max" 2>&1)" = 67108864 ] && ok "rootless: memory.max 64 MiB" || notok "rootless memory.max" "$(cat "$userscope/memory.max" 2>&1)"
asuser delete --force rl > /dev/null 2>&1
[ ! -e "$userscope" ] && ok "rootless delete: the scope goes" || notok "rootless delete" "$userscope left"

# --- podman at its defaults (on systemd its cgroup manager is systemd): skiff as --runtime ---
cd "$WORK"   # conmon writes into its working directory
PODMAN="podman --runtime $SKIFF"
[ "$(podman info --format '{{.Host.CgroupManager}}' 2>&1)" = systemd ] && ok "podman: its cgroup manager is systemd (its default)" \
    || notok "podman's cgroup manager" "$(podman info --format '{{.Host.CgroupManager}}' 2>&1 | tail -n 2)"
tar -C "$ROOTFS" -c . | $PODMAN import - skiff-busybox > "$WORK/import.out" 2>&1 && ok "podman: the image imported" || notok "podman import" "$(tail -n 3 "$WORK/import.out")"
out=$($PODMAN run --rm --network none skiff-busybox sh -c 'echo hello from podman; exit 3' 2>&1 < /dev/null); status=$?
[ $status -eq 3 ] && case "$out" in *"hello from podman"*) true ;; *) false ;; esac && ok "podman run --rm: output and exit status 3" || notok "podman run --rm" "status $status: $out"
$PODMAN run -d --name web --network none --memory 64m --cpus 0.5 --pids-limit 20 skiff-busybox sleep 300 > "$WORK/podman-run.out" 2>&1 < /dev/null \
    && ok "podman run -d with --memory, --cpus, --pids-limit" || notok "podman run -d" "$(tail -n 3 "$WORK/podman-run.out")"
cid=$($PODMAN inspect -f '{{.Id}}' web 2>/dev/null)
scope=$CG/machine.slice/libpod-$cid.scope
[ -d "$scope" ] && ok "podman: the container's scope is machine.slice/libpod-<id>.scope" || notok "podman: the scope" "$(find $CG -name "*$cid*" 2>&1 | head -n 3)"
[ "$(cat "$scope/memory.max" 2>&1)" = 67108864 ] && ok "podman --memory 64m: memory.max" || notok "podman memory.max" "$(cat "$scope/memory.max" 2>&1)"
[ "$(cat "$scope/pids.max" 2>&1)" = 20 ] && ok "podman --pids-limit 20: pids.max" || notok "podman pids.max" "$(cat "$scope/pids.max" 2>&1)"
[ "$(cat "$scope/cpu.max" 2>&1)" = "50000 100000" ] && ok "podman --cpus 0.5: cpu.max" || notok "podman cpu.max" "$(cat "$scope/cpu.max" 2>&1)"
[ "$($PODMAN exec web cat /proc/self/cgroup 2>&1)" = "0::/" ] && ok "podman exec" || notok "podman exec" "$($PODMAN exec web cat /proc/self/cgroup 2>&1)"
$PODMAN stats --no-stream web 2>&1 | grep -q web && ok "podman stats" || notok "podman stats" "$($PODMAN stats --no-stream web 2>&1 | tail -n 2)"
out=$($PODMAN update --memory 128m web 2>&1) && [ "$(systemctl show -p MemoryMax --value libpod-$cid.scope)" = 134217728 ] \
    && [ "$(cat "$scope/memory.max")" = 134217728 ] && ok "podman update --memory 128m: MemoryMax through systemd" || notok "podman update" "$out $(systemctl show -p MemoryMax --value libpod-$cid.scope)"
[ "$(systemctl show -p DevicePolicy --value libpod-$cid.scope)" = strict ] && ok "podman's device rules: DevicePolicy=strict" || notok "podman DevicePolicy" "$(systemctl show -p DevicePolicy --value libpod-$cid.scope)"
$PODMAN pause web > /dev/null 2>&1 && [ "$($PODMAN inspect -f '{{.State.Status}}' web)" = paused ] && ok "podman pause" || notok "podman pause" "$($PODMAN inspect -f '{{.State.Status}}' web 2>&1)"
$PODMAN unpause web > /dev/null 2>&1 && ok "podman unpause" || notok "podman unpause" "failed"
$PODMAN stop -t 1 web > /dev/null 2>&1 && [ "$($PODMAN inspect -f '{{.State.Status}}' web)" = exited ] && ok "podman stop" || notok "podman stop" "$($PODMAN inspect -f '{{.State.Status}}' web 2>&1)"
$PODMAN rm -f web > /dev/null 2>&1
[ ! -e "$scope" ] && ! systemctl list-units --all --no-legend | grep -q "libpod-$cid" && ok "podman rm: no scope, no cgroup" || notok "podman rm leaves nothing" "$(systemctl list-units --all --no-legend | grep libpod)"
cd /

# --- rootless podman at its defaults: what a new user types. podman runs skiff in its own user
# namespace (euid 0 there, uid 1000 to the node) with XDG_RUNTIME_DIR and no --root; its cgroup
# manager is systemd (the user's), its network slirp4netns, its storage the user's own ---
cd /home/skiffuser
# slirp4netns needs /dev/net/tun: the host kernel's tun module (vm/systemd/modules).
load_module drivers/net/tun
asuserpodman() { runuser -u skiffuser -- env XDG_RUNTIME_DIR=/run/user/1000 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus podman --runtime "$SKIFF" "$@"; }
[ "$(asuserpodman info --format '{{.Host.CgroupManager}}' 2>&1)" = systemd ] && ok "rootless podman: its cgroup manager is systemd (its default)" \
    || notok "rootless podman's cgroup manager" "$(asuserpodman info --format '{{.Host.CgroupManager}}' 2>&1 | tail -n 2)"
tar -C "$ROOTFS" -c . | asuserpodman import - skiff-busybox > "$WORK/rl-import.out" 2>&1 && ok "rootless podman: the image imported" || notok "rootless podman import" "$(tail -n 3 "$WORK/rl-import.out")"
out=$(asuserpodman run --rm skiff-busybox echo hi 2>&1 < /dev/null); status=$?
[ $status -eq 0 ] && [ "$out" = hi ] && ok "rootless podman run --rm skiff-busybox echo hi" || notok "rootless podman run --rm" "status $status: $out"
asuserpodman run -d --name rweb --memory 64m --cpus 0.5 --pids-limit 20 skiff-busybox sleep 300 > "$WORK/rl-run.out" 2>&1 < /dev/null \
    && ok "rootless podman run -d with --memory, --cpus, --pids-limit" || notok "rootless podman run -d" "$(tail -n 3 "$WORK/rl-run.out")"
rcid=$(asuserpodman inspect -f '{{.Id}}' rweb 2>/dev/null)
[ -n "$rcid" ] && [ -d "/run/user/1000/skiff/$rcid" ] && ok "rootless podman: skiff's state is in XDG_RUNTIME_DIR (/run/user/1000/skiff)" \
    || notok "rootless podman: skiff's state root" "$(ls /run/user/1000/skiff 2>&1 | head -n 3)"
rscope=$CG/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-$rcid.scope
[ -d "$rscope" ] && ok "rootless podman: the scope is the user manager's (user@1000.service/user.slice/libpod-<id>.scope)" \
    || notok "rootless podman: the scope" "$(find $CG -name "*$rcid*" 2>&1 | head -n 3)"
[ "$(cat "$rscope/memory.max" 2>&1)" = 67108864 ] && ok "rootless podman --memory 64m: memory.max" || notok "rootless podman memory.max" "$(cat "$rscope/memory.max" 2>&1)"
[ "$(cat "$rscope/pids.max" 2>&1)" = 20 ] && ok "rootless podman --pids-limit 20: pids.max" || notok "rootless podman pids.max" "$(cat "$rscope/pids.max" 2>&1)"
[ "$(cat "$rscope/cpu.max" 2>&1)" = "50000 100000" ] && ok "rootless podman --cpus 0.5: cpu.max" || notok "rootless podman cpu.max" "$(cat "$rscope/cpu.max" 2>&1)"
# Enforced: a memory hog is killed; a fork loop stops at the limit (last: it fills it).
asuserpodman exec rweb dd if=/dev/zero of=/dev/null bs=100M count=1 > /dev/null 2>&1; status=$?
[ $status -eq 137 ] && ok "rootless podman: a 100 MB allocation under --memory 64m is OOM-killed (137)" || notok "rootless podman memory limit" "exit $status"
# What the process reads is the check; what podman says on stderr is only shown (one CI run
# failed with "0::/" read and a second line, lost with the console's line filter).
out=$(asuserpodman exec rweb cat /proc/self/cgroup 2> "$WORK/rexec.err")
[ "$out" = "0::/" ] && ok "rootless podman exec" || notok "rootless podman exec" "$(printf '%s | stderr: %s' "$out" "$(cat "$WORK/rexec.err")" | tr '\n' ' ')"
asuserpodman stats --no-stream rweb 2>&1 | grep -q rweb && ok "rootless podman stats" || notok "rootless podman stats" "$(asuserpodman stats --no-stream rweb 2>&1 | tail -n 2)"
out=$(asuserpodman exec rweb sh -c 'i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done 2>/dev/null; echo $i started' 2>&1)
pids=$(cat "$rscope/pids.current" 2>&1)
[ "$pids" -le 20 ] && [ "$pids" -ge 18 ] && ok "rootless podman: the pids limit holds ($(cat "$rscope/pids.current") of 20)" || notok "rootless podman pids limit" "$out; $(cat "$rscope/pids.current" 2>&1)"
asuserpodman stop -t 1 rweb > /dev/null 2>&1 && [ "$(asuserpodman inspect -f '{{.State.Status}}' rweb)" = exited ] && ok "rootless podman stop" || notok "rootless podman stop" "$(asuserpodman inspect -f '{{.State.Status}}' rweb 2>&1)"
asuserpodman rm rweb > /dev/null 2>&1
[ ! -e "$rscope" ] && [ ! -e "/run/user/1000/skiff/$rcid" ] && ok "rootless podman rm: no scope, no state" || notok "rootless podman rm leaves nothing" "$(ls -d "$rscope" /run/user/1000/skiff/$rcid 2>&1)"
cd /

# --- containerd (its systemd service, Debian's defaults) with the runc shim's systemd cgroup:
# what a kubeadm node's SystemdCgroup = true does, skiff as the shim's binary ---
# (native snapshots: no overlayfs module in this VM; nothing about cgroups changed)
CTR="ctr run --snapshotter native --runc-binary $SKIFF --runc-systemd-cgroup"
for i in $(seq 50); do ctr version > /dev/null 2>&1 && break; sleep 0.2; done
$PODMAN save -o "$WORK/image.tar" skiff-busybox > /dev/null 2>&1 && ctr image import --snapshotter native "$WORK/image.tar" > "$WORK/ctr-import.out" 2>&1 \
    && ok "containerd: the image imported" || notok "containerd image import" "$(tail -n 3 "$WORK/ctr-import.out")"
image=$(ctr image ls -q | grep skiff-busybox | head -n 1)
out=$($CTR --rm --cgroup system.slice:containerd:c1 "$image" c1 sh -c 'echo hello from containerd; cat /proc/self/cgroup; exit 4' 2>&1 < /dev/null); status=$?
[ $status -eq 4 ] && case "$out" in *"hello from containerd"*"0::/system.slice/containerd-c1.scope"*) true ;; *) false ;; esac \
    && ok "ctr run --rm: output, in system.slice/containerd-c1.scope, exit status 4" || notok "ctr run --rm" "status $status: $out"
# The cgroup path a kubelet with the systemd driver gives containerd's CRI for a pod.
$CTR -d --memory-limit 67108864 --cgroup kubepods-besteffort-pod77.slice:cri-containerd:c2 "$image" c2 sleep 300 > "$WORK/ctr-run.out" 2>&1 < /dev/null && ok "ctr run -d --memory-limit" || notok "ctr run -d" "$(tail -n 3 "$WORK/ctr-run.out")"
scope=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod77.slice/cri-containerd-c2.scope
[ -d "$scope" ] && ok "containerd: the task's scope is in its pod's slice" || notok "containerd: the scope" "$(find $CG -name '*c2*' | head -n 3)"
unitname=$(basename "$scope")
systemctl is-active -q "$unitname" && ok "systemd runs $unitname" || notok "systemd runs the containerd task's scope" "$(systemctl status "$unitname" 2>&1 | head -n 3)"
[ "$(cat "$scope/memory.max" 2>&1)" = 67108864 ] && ok "containerd --memory-limit: memory.max" || notok "containerd memory.max" "$(cat "$scope/memory.max" 2>&1)"
# ctr's default spec has no cgroup namespace: the exec'd process sees the scope's full path.
case "$(ctr task exec --exec-id e1 c2 cat /proc/self/cgroup 2>&1)" in
    "0::/" | "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod77.slice/cri-containerd-c2.scope") ok "ctr task exec joins the scope" ;;
    *) notok "ctr task exec" "$(ctr task exec --exec-id e1 c2 cat /proc/self/cgroup 2>&1)" ;;
esac
ctr task metrics c2 2>&1 | grep -qi memory && ok "ctr task metrics" || notok "ctr task metrics" "$(ctr task metrics c2 2>&1 | tail -n 3)"
# Task.Update through the shim, as containerd sends it: MemoryMax through systemd.
out=$($P/shim-update /run/containerd default c2 '{"memory": {"limit": 134217728}, "pids": {"limit": 64}}' 2>&1) \
    && [ "$(systemctl show -p MemoryMax --value cri-containerd-c2.scope)" = 134217728 ] && [ "$(cat "$scope/pids.max")" = 64 ] \
    && ok "update through the shim: MemoryMax 128 MiB, pids.max 64" || notok "update through the shim" "$out $(systemctl show -p MemoryMax --value cri-containerd-c2.scope)"
out=$($P/shim-update /run/containerd default c2 '{"blockIO": {"weight": 5}}' 2>&1)
case "$out" in *"linux.resources.blockIO.weight"*) ok "a bad update is refused by skiff, through the shim" ;; *) notok "a bad update through the shim" "$out" ;; esac
ctr task kill -s KILL c2 > /dev/null 2>&1; for i in $(seq 50); do ctr task ls 2>/dev/null | grep -q "c2 .*RUNNING" || break; sleep 0.1; done
ctr task rm c2 > /dev/null 2>&1; ctr container rm c2 > /dev/null 2>&1
[ ! -e "$scope" ] && ! systemctl list-units --all --no-legend | grep -q "$unitname" && ok "ctr task kill, rm: no scope, no cgroup" || notok "containerd delete leaves nothing" "$(ls -d "$scope" 2>&1)"

# --- the VM's kernel has no modules of its own: the host's bridge, veth and nf_tables (for the
# pods' CNI bridge and skiff's CNI plugin), in the order vm/systemd/modules lists them ---
for module in $(grep -v '^#' $P/modules/list); do load_module $module; done

# --- checkpoint and restore through CRIU: plain, networked, under podman and containerd ---
. "$P/checkpoint.sh"

# --- Docker at its defaults here (the systemd cgroup driver on cgroup v2), skiff under runtimes ---
# (no bridge, iptables or overlay: the VM's kernel has no modules; Docker uses the VM's containerd)
mkdir -p "$WORK/docker"
printf '{"runtimes": {"skiff": {"path": "%s"}}, "bridge": "none", "iptables": false, "ip6tables": false, "storage-driver": "vfs"}' "$SKIFF" > "$WORK/docker/daemon.json"
dockerd --config-file "$WORK/docker/daemon.json" > "$WORK/dockerd.log" 2>&1 &
dockerd_pid=$!
for i in $(seq 150); do docker version > /dev/null 2>&1 && break; sleep 0.2; done
[ "$(docker info --format '{{.CgroupDriver}} {{.CgroupVersion}}' 2>&1)" = "systemd 2" ] && ok "Docker's defaults: the systemd cgroup driver on cgroup v2" \
    || notok "Docker's cgroup driver" "$(docker info --format '{{.CgroupDriver}} {{.CgroupVersion}}' 2>&1; tail -n 3 "$WORK/dockerd.log")"
tar -C "$ROOTFS" -c . | docker import - skiff-busybox > "$WORK/docker-import.out" 2>&1 && ok "docker: the image imported" || notok "docker import" "$(tail -n 3 "$WORK/docker-import.out")"
docker run -d --name scoped --runtime skiff --network none --memory 64m skiff-busybox sleep 300 > /dev/null 2>&1
did=$(docker inspect -f '{{.Id}}' scoped 2>/dev/null)
[ "$(systemctl show -p Slice --value "docker-$did.scope")" = system.slice ] && [ "$(systemctl show -p MemoryMax --value "docker-$did.scope")" = 67108864 ] \
    && ok "docker: the container is docker-<id>.scope in system.slice, MemoryMax 64 MiB" || notok "docker's scope" "$(systemctl status "docker-$did.scope" 2>&1 | head -n 3)"
docker rm -f scoped > /dev/null 2>&1
# A container whose init is OOM-killed at once, under skiff and runc side by side: both must end
# 137. Whether Docker 20.10 says OOMKilled then is a race outside the runtime: it counts the
# kill only if containerd's TaskOOM arrives before the TaskExit, and containerd 1.6's shim sends
# the two from different goroutines, the OOM one after the kernel's notification of
# memory.events (held back up to 20 ms after the previous one, the "max" event). Measured here:
# runc's and skiff's containers were each reported both ways across runs (Docker 24 sets
# OOMKilled on the OOM event itself). What each got is printed, not judged; the scenario below
# holds OOMKilled for a worker OOM-killed while its container runs on, where no race is.
for runtime in skiff runc; do
    docker run --name oom-$runtime --runtime $runtime --network none --memory 32m skiff-busybox sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1' > /dev/null 2>&1
    eval "oom_$runtime=\"$? $(docker inspect -f '{{.State.OOMKilled}}' oom-$runtime 2>&1)\""
    docker rm -f oom-$runtime > /dev/null 2>&1
done
echo "  # docker OOMKilled on this VM (exit status, OOMKilled): skiff $oom_skiff, runc $oom_runc"
case "$oom_skiff $oom_runc" in "137 "*" 137 "*) ok "docker --memory: OOM-killed (137) under skiff as under runc" ;; *) notok "docker OOM" "skiff: $oom_skiff, runc: $oom_runc" ;; esac
DOCKER=docker SCRATCH=$WORK/docker OOM_KILLED_REPORTED=no $P/docker-scenario.sh > "$WORK/docker.out" 2>&1
scenario docker "$WORK/docker.out" $?
kill $dockerd_pid; wait $dockerd_pid

# --- buildah at its defaults, skiff as --runtime, in a storage of the checks' own ---
BUILDAH="buildah --root $WORK/buildah/storage --runroot $WORK/buildah/run --storage-driver vfs" SKIFF=$SKIFF ROOTFS=$ROOTFS SCRATCH=$WORK/buildah \
    $P/buildah-scenario.sh > "$WORK/buildah.out" 2>&1
scenario buildah "$WORK/buildah.out" $?

# --- Kubernetes: containerd's CRI plugin with SystemdCgroup = true, a pod whose RuntimeClass
# handler is skiff; containerd and the pods' CNI bridge in a network namespace of their own ---
CRI_DIR=/var/lib/skiff-cri
ip netns add skiff-cri && ip -n skiff-cri link set lo up
$P/cri/prepare-node.sh $CRI_DIR "$SKIFF" "$ROOTFS" systemd > "$WORK/cri-prepare.out" 2>&1 || notok "CRI: the node prepared" "$(tail -n 3 "$WORK/cri-prepare.out")"
nsenter --net=/run/netns/skiff-cri containerd --config $CRI_DIR/config.toml > "$WORK/cri-containerd.log" 2>&1 &
cri_pid=$!
for i in $(seq 100); do ctr -a $CRI_DIR/containerd.sock version > /dev/null 2>&1 && break; sleep 0.2; done
ctr -a $CRI_DIR/containerd.sock -n k8s.io images import --no-unpack $CRI_DIR/image.tar > "$WORK/cri-import.out" 2>&1 \
    && ok "CRI: the images imported" || notok "CRI: the images" "$(tail -n 3 "$WORK/cri-import.out")"
env SOCKET=$CRI_DIR/containerd.sock CRI=$P/cri/cri.py CRI_PYTHON_OUT=$CRI_DIR/python CGROUP_PARENT=kubepods-besteffort-podskiffcri.slice \
    LOG_DIRECTORY=$CRI_DIR/logs SKIFF=$SKIFF SKIFF_ROOT=$CRI_DIR/runtime/k8s.io SYSTEMD_UNITS=yes $P/cri/pod-scenario.sh > "$WORK/cri.out" 2>&1
scenario CRI "$WORK/cri.out" $?
grep -q "restrict_oom_score_adj = false" $CRI_DIR/config.toml && ok "CRI: pods get containerd's oom_score_adj -998 (not restricted here)" || notok "CRI: oom_score_adj" "restricted"
[ -z "$(ls $CRI_DIR/ipam/skiff-pods 2>/dev/null | grep '^10\.')" ] && ok "CRI: no address lease is left" || notok "CRI: leases left" "$(ls $CRI_DIR/ipam/skiff-pods)"
kill $cri_pid; wait $cri_pid
ip netns delete skiff-cri

# --- Security groups for pods of any runtime: containerd's CRI plugin (SystemdCgroup = true) with
# skiff's CNI plugin, pods under runc's and skiff's handlers (the scenarios of CRISecurityGroupTests) ---
CNI_DIR=/var/lib/skiff-cri-groups
ip netns add skiff-crig && ip -n skiff-crig link set lo up
$P/cri/prepare-node.sh $CNI_DIR "$SKIFF" "$ROOTFS" systemd skiff > "$WORK/crig-prepare.out" 2>&1 || notok "CNI: the node prepared" "$(tail -n 3 "$WORK/crig-prepare.out")"
start_node_containerd() {
    nsenter --net=/run/netns/skiff-crig containerd --config $CNI_DIR/config.toml >> "$WORK/crig-containerd.log" 2>&1 &
    crig_pid=$!
    for i in $(seq 100); do ctr -a $CNI_DIR/containerd.sock version > /dev/null 2>&1 && break; sleep 0.2; done
    # The CRI plugin answers once it has loaded its pods ("server is not initialized yet" before).
    for i in $(seq 150); do CRI_PYTHON_OUT=$CNI_DIR/python $P/cri/cri.py $CNI_DIR/containerd.sock ListPodSandbox '{}' > /dev/null 2>&1 && break; sleep 0.2; done
}
start_node_containerd
ctr -a $CNI_DIR/containerd.sock -n k8s.io images import --no-unpack $CNI_DIR/image.tar > "$WORK/crig-import.out" 2>&1 \
    && ok "CNI: the images imported" || notok "CNI: the images" "$(tail -n 3 "$WORK/crig-import.out")"
cni_scenario() {
    env SOCKET=$CNI_DIR/containerd.sock CRI=$P/cri/cri.py CRI_PYTHON_OUT=$CNI_DIR/python LOG_DIRECTORY=$CNI_DIR/logs \
        NODE=/run/netns/skiff-crig STATE=$CNI_DIR/scenario-state CNI_BIN=$CNI_DIR/cni-bin SKIFF=$SKIFF KILL_AFTER="0 300 1000 2000 4000 10000 lease" \
        CGROUP_PARENT=kubepods-besteffort-podskiffcni.slice \
        "$P/cri/$1" $2 > "$WORK/crig-$2.out" 2>&1
    scenario "CNI $2" "$WORK/crig-$2.out" $?
}
cni_scenario groups-scenario.sh groups
cni_scenario survival-scenario.sh before-restart
kill $crig_pid; wait $crig_pid
start_node_containerd
cni_scenario survival-scenario.sh after-restart
cni_scenario survival-scenario.sh killed-adds
kill $crig_pid; wait $crig_pid
ip netns delete skiff-crig

finish
echo "SKIFF-VM-DONE"
