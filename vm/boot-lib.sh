# SPDX-License-Identifier: Apache-2.0
# Sourced by vm/run and vm/systemd/run: boots a qemu (TCG) VM whose serial console goes to a
# file, under a watchdog.
#
# Why not `timeout qemu … | tr`: in CI a VM's kernel panicked (Debian 13's, under TCG) and
# `timeout`'s SIGTERM did not end qemu, which had SIGTERM blocked: the test process that ran
# this script spawned it from a thread that blocks nearly every signal, and the mask is
# inherited (Tests/VMTests/VMRun.swift now spawns with a clean one). The run waited an hour. Here qemu's console is written by qemu itself (no pipe buffer hides how far the
# VM got), and the watchdog ends qemu with SIGKILL:
#   - a boot that has printed no SKIFF-VM-START within BOOT_SECONDS (40 s on an idle
#     machine) hung in the emulator: it is killed and booted once more, said on stderr;
#   - a VM still running after LIMIT seconds is killed, and the caller reports the
#     console's tail;
#   - a guest kernel that panics (Debian 13's 6.12 under TCG has, at random, in its
#     scheduler: an emulation fault, not skiff's) is booted once more; the callers' kernel
#     command lines say panic=-1, so a panic ends qemu at once instead of at LIMIT.
# The script that sources this kills its VM when it is itself ended (EXIT, INT, TERM).

vm_pid=
vm_stop() { [ -z "$vm_pid" ] || kill -KILL "$vm_pid" 2>/dev/null || true; }
trap 'vm_stop; exit 130' INT
trap 'vm_stop; exit 143' TERM

# boot_vm CONSOLE LIMIT QEMU-ARGUMENTS…: the console, \r removed, in CONSOLE; returns 0
# (what the VM printed says how it went).
boot_vm() {
    local console=$1 limit=$2 boot_seconds=${BOOT_SECONDS:-300} attempt started verdict
    shift 2
    for attempt in 1 2; do
        : > "$console.raw"
        qemu-system-x86_64 "$@" -display none -monitor none -serial "file:$console.raw" \
            < /dev/null > "$console.qemu" 2>&1 &
        vm_pid=$! started=$SECONDS verdict=
        # (stderr away: bash's own "Killed" notice for the job is not the VM's output)
        {
            while [ -z "$verdict" ] && kill -0 "$vm_pid"; do
                sleep 2
                if [ $((SECONDS - started)) -ge "$limit" ]; then
                    verdict="the VM still ran after ${limit}s: killed"
                elif [ $((SECONDS - started)) -ge "$boot_seconds" ] && ! grep -aq "SKIFF-VM-START" "$console.raw"; then
                    verdict=hung
                fi
            done
            vm_stop
            wait "$vm_pid"
        } 2>/dev/null || true
        vm_pid=
        tr -d '\r' < "$console.raw" > "$console"
        grep -aq "Kernel panic - not syncing" "$console" && [ -z "$verdict" ] && verdict=panic
        case "$verdict" in
        "") return 0 ;;
        panic) echo "$(basename "$0"): the VM's kernel panicked (attempt $attempt): $(grep -a -m1 -B2 "Kernel panic" "$console" | tr '\n' ' ' | cut -c1-300)" >&2 ;;
        hung) echo "$(basename "$0"): the VM printed no SKIFF-VM-START in ${boot_seconds}s (attempt $attempt; qemu: $(tail -c 300 "$console.qemu"))" >&2 ;;
        *) echo "$(basename "$0"): $verdict" >&2 && return 0 ;;
        esac
    done
    return 0
}

# checks_passed CONSOLE: whether the checks' summary line says none failed. If some did, they
# are printed once more, with their detail lines, as the last lines on stderr: a CI log that
# keeps only the head and tail of a long output showed "312 passed, 1 failed" and not which.
checks_passed() {
    grep -qE "^[0-9]+ passed, 0 failed$" "$1" && return 0
    echo "$(basename "$0"): failed:" >&2
    awk '/^not ok - /{shown=1; print; next} shown && /^  [|#] /{print; next} {shown=0}' "$1" >&2
    return 1
}
