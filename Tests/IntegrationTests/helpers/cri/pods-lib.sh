# SPDX-License-Identifier: Apache-2.0
# What the CNI scenarios (groups-scenario.sh, survival-scenario.sh) do as a kubelet: pods of
# one container through cri.py, and what a container reaches. Sourced; needs SOCKET, CRI
# (cri.py, with CRI_PYTHON_OUT) and LOG_DIRECTORY.
. "$(dirname "$0")/../scenario-lib.sh"
cri() { "$CRI" "$SOCKET" "$@"; }
exec_in() { cri ExecSync "{\"container_id\":\"$1\",\"cmd\":[\"sh\",\"-c\",\"$2\"],\"timeout\":30}" --as-process; }
# pod NAME ANNOTATIONS-JSON: a pod sandbox config; in CGROUP_PARENT's slice when it is set (a
# kubelet with the systemd cgroup driver always names one).
pod() {
    printf '{"metadata":{"name":"%s","uid":"skiff-groups-%s-%s","namespace":"default"},"hostname":"%s","log_directory":"%s","annotations":%s,"linux":{%s"security_context":{"namespace_options":{"network":"POD","pid":"CONTAINER","ipc":"POD"}}}}' \
        "$1" "$1" "$$" "$1" "$LOG_DIRECTORY" "$2" "${CGROUP_PARENT:+\"cgroup_parent\":\"$CGROUP_PARENT\",}"
}
# run POD-CONFIG HANDLER COMMAND: the pod sandbox and one container running COMMAND; prints
# "SANDBOX CONTAINER" (a failed call says why on stderr).
run() {
    sandbox=$(cri RunPodSandbox "{\"config\":$1,\"runtime_handler\":\"$2\"}" pod_sandbox_id) || return 1
    container=$(cri CreateContainer "{\"pod_sandbox_id\":\"$sandbox\",\"config\":{\"metadata\":{\"name\":\"main\"},\"image\":{\"image\":\"skiff.test/busybox:1\"},\"command\":[\"sh\",\"-c\",\"$3\"],\"log_path\":\"main-$sandbox.log\"},\"sandbox_config\":$1}" container_id) || return 1
    cri StartContainer "{\"container_id\":\"$container\"}" > /dev/null || return 1
    echo "$sandbox $container"
}
remove() { cri StopPodSandbox "{\"pod_sandbox_id\":\"$1\"}" > /dev/null && cri RemovePodSandbox "{\"pod_sandbox_id\":\"$1\"}" > /dev/null; }
address() { cri PodSandboxStatus "{\"pod_sandbox_id\":\"$1\"}" status.network.ip; }
# connect CONTAINER ADDRESS PORT: what a TCP connection from the container reads (at most 2 s:
# busybox nc's -w needs SIGALRM, which processes started from the tests may have blocked).
connect() { exec_in "$1" "timeout -s KILL 2 nc $2 $3 2>/dev/null"; }


# The node (NODE: its network namespace, where containerd runs) holds nothing of a pod's
# network: no task veth, no element in skiff's sets (and nft can list the ruleset), no lease.
leases_of_node() {
    cookie=$(nsenter --net="$NODE" python3 -c 'import socket; s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), "little"))')
    echo "/run/skiff-network/$cookie"
}
no_task_veth() { ! nsenter --net="$NODE" ip -o link show | grep ': skv'; }
no_elements() { ruleset=$(nsenter --net="$NODE" nft list ruleset) && ! printf '%s\n' "$ruleset" | grep -A3 elements; }
no_lease() { ! cat "$(leases_of_node)"/*.leases 2>/dev/null | grep ' cni:'; }
