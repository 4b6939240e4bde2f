#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# create+start+delete of /bin/true under each runtime's systemd cgroup driver, on a real
# systemd host (vm/systemd/run ... bench.sh): skiff, crun and runc, alternating, medians.
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
rm -rf "$WORK"
echo "SKIFF-VM-DONE"
