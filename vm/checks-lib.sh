#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What the two VM check scripts (vm/checks.sh, vm/systemd/checks.sh) share; sourced from the
# directory they run in. Each check prints one TAP-style line ("ok - name" / "not ok - name:
# why"); `finish` prints "N passed, N failed" and says whether all passed.
#   SKIFF        the skiff binary (skiff-init beside it)
#   ROOTFS       a busybox root filesystem
#   SKIFF_FLAGS  global flags for every skiff call (--systemd-cgroup)
STATE=/run/skiff-checks
WORK=$(mktemp -d /tmp/skiff-checks.XXXXXX)
CG=/sys/fs/cgroup
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
notok() { echo "not ok - $1: $2"; fail=$((fail + 1)); }
# shellcheck disable=SC2086 # SKIFF_FLAGS is a list of flags
skiff() { "$SKIFF" $SKIFF_FLAGS --root "$STATE" "$@"; }
pid_of() { skiff state "$1" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'; }

# hold_perf_context_switch_hook: QEMU's TCG with two vCPUs can crash a guest kernel that patches
# code another vCPU is running (Debian 13's 6.12 panicked in __schedule, mid-instruction, at
# random during the checkpoint checks): every CRIU run sets a hardware breakpoint, a per-task
# perf event, which turns perf's context-switch hook (a static key in __schedule) on, and off
# again when it goes. One per-task perf event held from the start keeps the key on: patched
# once, at boot, never again. (perf_event_open, x86-64's 298: PERF_TYPE_SOFTWARE,
# PERF_COUNT_SW_DUMMY, this process, any CPU.)
hold_perf_context_switch_hook() {
    python3 -c '
import ctypes, signal, struct
attr = ctypes.create_string_buffer(128)
struct.pack_into("IIQ", attr, 0, 1, 128, 9)
if ctypes.CDLL(None, use_errno=True).syscall(298, attr, 0, -1, -1, 0) < 0:
    raise SystemExit("perf_event_open: errno %d" % ctypes.get_errno())
signal.pause()
' &
}

# bundle NAME ARGS-JSON RESOURCES-JSON [DEVICES-JSON] [CAPS-JSON] [CGROUPS-PATH] [READONLY-ROOT]
bundle() {
    mkdir -p "$WORK/$1"
    caps=${5:-'["CAP_KILL"]'}
    path=${6:+"\"cgroupsPath\": \"$6\","}
    cat > "$WORK/$1/config.json" <<JSON
{"ociVersion": "1.2.0",
 "process": {"user": {"uid": 0, "gid": 0}, "args": $2, "env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"], "cwd": "/",
             "capabilities": {"bounding": $caps, "effective": $caps, "permitted": $caps}},
 "root": {"path": "$ROOTFS", "readonly": ${7:-false}},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro", "nosuid", "nodev", "noexec"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "nodev", "noexec"]}],
 "linux": {$path "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "cgroup"}],
           "resources": $3, "devices": ${4:-[]}}}
JSON
}

# wait_for FILE PATTERN SECONDS
wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt $(($3 * 10)) ] && return 1; sleep 0.1
    done
}

# scenario NAME OUTPUT STATUS: a shared scenario's `ok`/`not ok` lines (Tests/IntegrationTests/
# helpers, the same the host's integration tests run) counted as these checks, and its exit
# status as one more: a scenario that dies part-way fails here even if every line it printed
# was `ok`. When one fails, what the scenario printed besides its checks follows as "  # " lines.
scenario() {
    while IFS= read -r line; do
        case "$line" in
            "ok - "*) ok "$1: ${line#ok - }" ;;
            "not ok - "*) notok "$1: ${line#not ok - }" "below" ;;
        esac
    done < "$2"
    if [ "$3" = 0 ]; then ok "$1: the scenario ran to its end (exit 0)"; else notok "$1: the scenario ran to its end" "exit $3 (below)"; fi
    if [ "$3" != 0 ] || grep -q "^not ok - " "$2"; then grep -v "^ok - " "$2" | tail -n 40 | sed 's/^/  # /'; fi
}

# finish: the totals line; succeeds only if every check passed.
finish() {
    rm -rf "$WORK"
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]
}
