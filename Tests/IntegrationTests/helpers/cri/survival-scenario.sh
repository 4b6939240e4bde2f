#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What a pod's network survives under containerd's CRI plugin with skiff as its CNI plugin.
# One phase per call (containerd is restarted by the caller between the first two):
#   before-restart  db (runc, group db, ingress tcp 5432 from web) and web (skiff, group web);
#                   web reaches db:5432. Their ids go to STATE.
#   after-restart   both pods are still ready, web still reaches db:5432, a new pod outside web
#                   does not; all removed, nothing left on the node.
#   killed-adds     the plugin killed at instants of ADD (a wrapper in CNI_BIN starts it, counts
#                   to each of KILL_AFTER, a loop of the shell's own, and kills it: a count
#                   scales with the machine's speed as ADD does, which a sleep's start-up does
#                   not; "lease" kills it as soon as its lease is in the file): RunPodSandbox
#                   fails, containerd's DEL cleans up, and nothing is left after each; at least
#                   one kill landed after the lease was written.
# Environment: SOCKET, CRI (cri.py, with CRI_PYTHON_OUT), LOG_DIRECTORY, NODE (the node's
# network namespace), STATE (a file), and for killed-adds CNI_BIN and SKIFF.
set -u
. "$(dirname "$0")/pods-lib.sh"

case $1 in
before-restart)
    db=$(run "$(pod db '{"io.skiff.network.groups":"db","io.skiff.network.ingress":"tcp 5432 web"}')" runc \
        "nc -ll -p 5432 -e echo db & sleep 300")
    require "db runs under runc" test -n "$db"
    web=$(run "$(pod web '{"io.skiff.network.groups":"web"}')" skiff "sleep 300")
    require "web runs under skiff" test -n "$web"
    db_address=$(address "${db% *}")
    sleep 0.3
    check "web reaches db:5432" same "$(connect "${web#* }" "$db_address" 5432)" db
    echo "$db $web $db_address" > "$STATE"
    ;;
after-restart)
    read -r db_sandbox db_container web_sandbox web_container db_address < "$STATE"
    for sandbox in "$db_sandbox" "$web_sandbox"; do
        check "pod $sandbox is still ready after the restart" same "$(cri PodSandboxStatus "{\"pod_sandbox_id\":\"$sandbox\"}" status.state)" SANDBOX_READY
    done
    check "db kept its address" same "$(address "$db_sandbox")" "$db_address"
    check "web still reaches db:5432" same "$(connect "$web_container" "$db_address" 5432)" db
    other=$(run "$(pod other '{}')" runc "sleep 300")
    require "a pod outside web runs" test -n "$other"
    check "and does not reach db:5432" same "$(connect "${other#* }" "$db_address" 5432)" ""
    for sandbox in "$db_sandbox" "$web_sandbox" "${other% *}"; do check "pod $sandbox is removed" remove "$sandbox"; done
    check "no task veth is left" no_task_veth
    check "no element is left (and nft lists the ruleset)" no_elements
    check "no lease is left" no_lease
    ;;
killed-adds)
    kill_after=$(dirname "$STATE")/kill-after midway=$(dirname "$STATE")/killed-midway leases=$(leases_of_node)
    rm -f "$CNI_BIN/skiff" "$midway" "$midway.log"
    cat > "$CNI_BIN/skiff" <<WRAPPER
#!/bin/sh
# skiff's ADD, killed after counting to \$(cat $kill_after); a kill that found the pod's
# lease written is counted in $midway.
[ "\$CNI_COMMAND" = ADD ] || exec "$SKIFF"
output=\$(mktemp)
# (A background command's stdin is /dev/null in sh: the configuration goes through fd 3.)
exec 3<&0
"$SKIFF" <&3 3<&- > "\$output" &
pid=\$!
count=\$(cat $kill_after) i=0
# "lease": the kill follows the lease's line into the file at once (builtins only: a fork would
# let the ADD run on to its end); a count is a loop of that length.
leased() {
    for file in "$leases"/*.leases; do
        [ -f "\$file" ] || continue
        while read -r line; do case \$line in *" cni:\$CNI_CONTAINERID:"*) return 0 ;; esac; done < "\$file"
    done
    return 1
}
if [ "\$count" = lease ]; then
    while kill -0 \$pid 2> /dev/null && ! leased; do :; done
else
    while [ \$i -lt \$count ]; do i=\$((i + 1)); done
fi
kill -KILL \$pid 2> /dev/null
wait \$pid
status=\$?
echo "\$CNI_CONTAINERID \$(cat $kill_after) \$status" >> "$midway.log"
if [ \$status -eq 137 ] && cat "$leases"/*.leases 2> /dev/null | grep -q " cni:\$CNI_CONTAINERID:"; then echo "\$CNI_CONTAINERID" >> "$midway"; fi
cat "\$output"
rm -f "\$output"
exit \$status
WRAPPER
    chmod 0755 "$CNI_BIN/skiff"
    round=0
    for count in ${KILL_AFTER:-0 100 200 400 700 1000 1500 2000 2500 3000 4000 5000 7000 10000 lease}; do
        round=$((round + 1))
        echo "$count" > "$kill_after"
        case $count in lease) instant="once its lease was written" ;; *) instant="after counting to $count" ;; esac
        sandbox=$(cri RunPodSandbox "{\"config\":$(pod "k$round" '{"io.skiff.network.groups":"web","io.skiff.network.ingress":"tcp 80 web"}'),\"runtime_handler\":\"runc\"}" pod_sandbox_id 2> /dev/null) \
            && remove "$sandbox"
        check "ADD killed $instant, then DEL: no task veth" no_task_veth
        check "ADD killed $instant, then DEL: no element" no_elements
        check "ADD killed $instant, then DEL: no lease" no_lease
    done
    rm -f "$CNI_BIN/skiff" && ln -s "$SKIFF" "$CNI_BIN/skiff"
    sed 's/^/# ADD (container, count, exit status): /' "$midway.log"
    check "some kills landed after the lease was written" test -s "$midway"
    ;;
*) echo "usage: $0 before-restart|after-restart|killed-adds" >&2 && exit 2 ;;
esac
finish
