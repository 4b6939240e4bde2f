#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# create+start+delete of /bin/true under each runtime's systemd cgroup driver, on a real
# systemd host (vm/systemd/run ... bench.sh): skiff, crun and runc, alternating, medians;
# then the tail: p50, p99 and max of create→start and of delete with 8, 32 and 100 creators
# at once, each runtime on its own, where every create asks systemd for a scope (bash, for
# $EPOCHREALTIME: a date(1) per timestamp would add its own load).
P=/payload
ROUNDS=${ROUNDS:-30}
WORK=$(mktemp -d /tmp/skiff-bench.XXXXXX)
echo "SKIFF-VM-START systemd bench, $(systemctl --version | head -n 1 | cut -d' ' -f2), kernel $(uname -r)"
mkdir -p "$WORK/bundle"
# ociVersion 1.0.2: Debian's crun 1.8 refuses newer ones.
cat > "$WORK/bundle/config.json" <<JSON
{"ociVersion": "1.0.2",
 "process": {"user": {"uid": 0, "gid": 0}, "args": ["/bin/true"], "env": ["PATH=/bin"], "cwd": "/",
             "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}},
 "root": {"path": "$P/rootfs", "readonly": true},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}],
           "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 64}}}}
JSON
now() { date +%s%N; }
runtimes="skiff:$P/skiff"
command -v crun > /dev/null && runtimes="$runtimes crun:$(command -v crun)"
command -v runc > /dev/null && runtimes="$runtimes runc:$(command -v runc)"
for entry in $runtimes; do : > "$WORK/${entry%%:*}.times"; done
i=0
while [ $i -lt "$ROUNDS" ]; do
    for entry in $runtimes; do
        name=${entry%%:*} binary=${entry#*:}
        id="bench-$name-$i"
        start=$(now)
        "$binary" --systemd-cgroup --root "/run/bench-$name" create --bundle "$WORK/bundle" "$id" > /dev/null 2> "$WORK/err" < /dev/null &&
            "$binary" --systemd-cgroup --root "/run/bench-$name" start "$id" > /dev/null 2>> "$WORK/err" &&
            "$binary" --systemd-cgroup --root "/run/bench-$name" delete --force "$id" > /dev/null 2>> "$WORK/err" ||
            echo "not ok - $name round $i failed: $(head -c 300 "$WORK/err")"
        end=$(now)
        echo $(((end - start) / 1000)) >> "$WORK/$name.times"
    done
    i=$((i + 1))
done
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { printf "%.2f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) / 1000 }'; }
crun_ms=$(median "$WORK/crun.times" 2>/dev/null)
echo "BENCH create+start+delete of /bin/true with --systemd-cgroup (memory and pids limits), $ROUNDS rounds, medians:"
for entry in $runtimes; do
    name=${entry%%:*}
    ms=$(median "$WORK/$name.times")
    echo "BENCH $name $ms ms $(awk -v a="$ms" -v b="$crun_ms" 'BEGIN { if (b > 0) printf "(%.2f x crun)", a / b }')"
done

# The tail. Creator k of N makes containers k, k+N, k+2N, ... below the level's total.
usec() { echo "${EPOCHREALTIME/./}"; }
tail_level() {  # NAME BINARY CREATORS TOTAL
    local name=$1 binary=$2 creators=$3 total=$4 out="$WORK/tail-$1-$3" k
    : > "$out"
    for ((k = 0; k < creators; k++)); do
        (
            for ((i = k; i < total; i += creators)); do
                id="tail-$name-$creators-$i"
                t0=$(usec)
                "$binary" --systemd-cgroup --root "/run/bench-$name" create --bundle "$WORK/bundle" "$id" > /dev/null 2>> "$WORK/tail-err" < /dev/null &&
                    "$binary" --systemd-cgroup --root "/run/bench-$name" start "$id" > /dev/null 2>> "$WORK/tail-err" ||
                    echo "BENCH not ok - $name create/start of $id failed ($creators creators): $(tail -c 300 "$WORK/tail-err")"
                t1=$(usec)
                "$binary" --systemd-cgroup --root "/run/bench-$name" delete --force "$id" > /dev/null 2>> "$WORK/tail-err" ||
                    echo "BENCH not ok - $name delete of $id failed ($creators creators): $(tail -c 300 "$WORK/tail-err")"
                t2=$(usec)
                printf 'cs %d\nd %d\n' $((t1 - t0)) $((t2 - t1)) >> "$out"
            done
        ) &
    done
    wait
}
# p50, p99 (nearest rank) and max in ms of one kind of operation (cs or d) in a level's file.
percentiles() {
    awk -v kind="$2" '$1 == kind { print $2 }' "$1" | sort -n |
        awk '{ a[NR] = $1 } END { i99 = int(NR * 0.99); if (i99 < NR * 0.99) i99++; printf "%.1f %.1f %.1f", a[int((NR + 1) / 2)] / 1000, a[i99] / 1000, a[NR] / 1000 }'
}
levels="8:48 32:64 100:200"
for level in $levels; do
    for entry in $runtimes; do tail_level "${entry%%:*}" "${entry#*:}" "${level%%:*}" "${level#*:}"; done
done
echo "BENCH the tail with --systemd-cgroup: N creators at once, each creating, starting and deleting one after another (ms):"
echo "BENCH runtime creators containers | create→start p50 p99 max | p99 vs crun | delete p50 p99 max | p99 vs crun"
for level in $levels; do
    creators=${level%%:*}
    read -r _ crun_cs _ <<< "$(percentiles "$WORK/tail-crun-$creators" cs 2> /dev/null)"
    read -r _ crun_d _ <<< "$(percentiles "$WORK/tail-crun-$creators" d 2> /dev/null)"
    for entry in $runtimes; do
        name=${entry%%:*}
        read -r cs50 cs99 csmax <<< "$(percentiles "$WORK/tail-$name-$creators" cs)"
        read -r d50 d99 dmax <<< "$(percentiles "$WORK/tail-$name-$creators" d)"
        echo "BENCH $name $creators ${level#*:} | $cs50 $cs99 $csmax | $(awk -v a="$cs99" -v b="$crun_cs" 'BEGIN { if (b > 0) printf "%.2f", a / b }') | $d50 $d99 $dmax | $(awk -v a="$d99" -v b="$crun_d" 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
    done
done
rm -rf "$WORK"
echo "SKIFF-VM-DONE"
