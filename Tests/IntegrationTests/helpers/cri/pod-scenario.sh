#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What a kubelet does with a pod whose RuntimeClass handler is `skiff`, through containerd's
# CRI plugin: run the pod sandbox, create and start two containers with CRI resources and
# security contexts, exec into them, read their stats, update one, stop and remove the pod.
# Prints one `ok`/`not ok` line per check (TAP without a plan); the caller (the host's
# CRITests, the systemd VM's checks) counts them and checks the node for anything left.
#
# Environment: SOCKET (containerd's), CRI (cri.py, with CRI_PYTHON_OUT), CGROUP_PARENT (the
# pod's, as a kubelet with that cgroup driver names it), LOG_DIRECTORY, SKIFF and SKIFF_ROOT
# (the shim's runtime root, where `skiff list` sees the pod's containers); SYSTEMD_UNITS=yes on
# a systemd node (SystemdCgroup = true): the containers are scopes in the pod's slice.
set -u
. "$(dirname "$0")/../scenario-lib.sh"
cri() { "$CRI" "$SOCKET" "$@"; }
# exec_in CONTAINER COMMAND: ExecSync of `sh -c COMMAND`, its output and exit code ours.
exec_in() { cri ExecSync "{\"container_id\":\"$1\",\"cmd\":[\"sh\",\"-c\",\"$2\"],\"timeout\":30}" --as-process; }
pod_uid=skiff-pod-$$
pod="{\"metadata\":{\"name\":\"web\",\"uid\":\"$pod_uid\",\"namespace\":\"default\"},\"hostname\":\"web-pod\",
 \"log_directory\":\"$LOG_DIRECTORY\",\"linux\":{\"cgroup_parent\":\"$CGROUP_PARENT\",
 \"security_context\":{\"namespace_options\":{\"network\":\"POD\",\"pid\":\"CONTAINER\",\"ipc\":\"POD\"}}}}"

check "CRI v1 is served" same "$(cri Version '{}' runtime_api_version)" v1
sandbox=$(cri RunPodSandbox "{\"config\":$pod,\"runtime_handler\":\"skiff\"}" pod_sandbox_id)
require "RunPodSandbox with runtime_handler skiff" test -n "$sandbox"
status() { cri PodSandboxStatus "{\"pod_sandbox_id\":\"$sandbox\"}" "$1"; }
check "the pod is ready" same "$(status status.state)" SANDBOX_READY
check "the pod is skiff's" same "$(status status.runtime_handler)" skiff
check "the pod has an address from the CNI bridge" has "$(status status.network.ip)" 10.99.0.
check "skiff runs the pod's sandbox" has "$("$SKIFF" --root "$SKIFF_ROOT" list -q)" "$sandbox"

# The server drops every capability, runs as uid 1000 without new privileges, and listens on
# the pod's localhost; the client has a read-only root filesystem.
server_config="{\"metadata\":{\"name\":\"server\"},\"image\":{\"image\":\"skiff.test/busybox:1\"},
 \"command\":[\"sh\",\"-c\",\"echo serving; while true; do echo hello-from-server | nc -l -p 8080; done\"],
 \"log_path\":\"server.log\",\"linux\":{\"resources\":{\"cpu_period\":100000,\"cpu_quota\":50000,
 \"memory_limit_in_bytes\":67108864},\"security_context\":{\"capabilities\":{\"drop_capabilities\":[\"ALL\"]},
 \"no_new_privs\":true,\"run_as_user\":{\"value\":1000},
 \"namespace_options\":{\"network\":\"POD\",\"pid\":\"CONTAINER\",\"ipc\":\"POD\"}}}}"
client_config="{\"metadata\":{\"name\":\"client\"},\"image\":{\"image\":\"skiff.test/busybox:1\"},
 \"command\":[\"sleep\",\"300\"],\"log_path\":\"client.log\",\"linux\":{\"resources\":{\"memory_limit_in_bytes\":33554432},
 \"security_context\":{\"readonly_rootfs\":true,\"namespace_options\":{\"network\":\"POD\",\"pid\":\"CONTAINER\",\"ipc\":\"POD\"}}}}"
create() { cri CreateContainer "{\"pod_sandbox_id\":\"$sandbox\",\"config\":$1,\"sandbox_config\":$pod}" container_id; }
server=$(create "$server_config")
client=$(create "$client_config")
require "CreateContainer, twice" test -n "$server" -a -n "$client"
check "StartContainer (server)" cri StartContainer "{\"container_id\":\"$server\"}"
check "StartContainer (client)" cri StartContainer "{\"container_id\":\"$client\"}"
container_state() { cri ContainerStatus "{\"container_id\":\"$1\"}" status.state; }
check "both containers run" same "$(container_state "$server") $(container_state "$client")" "CONTAINER_RUNNING CONTAINER_RUNNING"

# Security contexts, as the server's own processes see them.
check "ExecSync: the server's process runs as uid 1000" same "$(exec_in "$server" 'id -u')" 1000
check "ExecSync: with no capabilities" has "$(exec_in "$server" 'grep CapEff /proc/self/status')" 0000000000000000
check "ExecSync: and no new privileges" has "$(exec_in "$server" 'grep NoNewPrivs /proc/self/status')" 1
exec_in "$server" 'exit 3'
check "ExecSync returns the exit code" same "$?" 3
check "the client's root filesystem is read-only" has "$(exec_in "$client" 'touch /x 2>&1')" "Read-only file system"
check "the pod's hostname" same "$(exec_in "$client" hostname)" web-pod
check "each container has its own pid namespace" same "$(exec_in "$client" 'ps -o comm | grep -c nc')" 0
# One network namespace per pod: the client reaches the server on localhost.
check "the containers reach each other on localhost" same "$(exec_in "$client" 'nc 127.0.0.1 8080 </dev/null')" hello-from-server

# Resources: the limits inside the container's own cgroup (v1 or v2), the stats outside.
memory_limit='cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'
cpu_quota='if [ -e /sys/fs/cgroup/cpu.max ]; then read quota period </sys/fs/cgroup/cpu.max; echo $quota; else cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us; fi'
check "the server's memory limit" same "$(exec_in "$server" "$memory_limit")" 67108864
check "the server's CPU quota" same "$(exec_in "$server" "$cpu_quota")" 50000
check "the client's memory limit" same "$(exec_in "$client" "$memory_limit")" 33554432
if [ "${SYSTEMD_UNITS:-}" = yes ]; then
    unit=cri-containerd-$server.scope
    check "systemd runs the server as $unit" systemctl is-active -q "$unit"
    check "in the pod's slice" same "$(systemctl show -p Slice --value "$unit")" "$CGROUP_PARENT"
    check "with its memory limit as MemoryMax" same "$(systemctl show -p MemoryMax --value "$unit")" 67108864
fi
stats() { cri ContainerStats "{\"container_id\":\"$server\"}" "$1"; }
check "ContainerStats: CPU used" test "$(stats stats.cpu.usage_core_nano_seconds.value)" -gt 0
check "ContainerStats: memory in use" test "$(stats stats.memory.working_set_bytes.value)" -gt 0
check "ContainerStats: memory available under the limit" test "$(stats stats.memory.available_bytes.value)" -le 67108864
check "UpdateContainerResources" cri UpdateContainerResources \
    "{\"container_id\":\"$server\",\"linux\":{\"cpu_period\":100000,\"cpu_quota\":20000,\"memory_limit_in_bytes\":134217728}}"
check "the new memory limit holds inside" same "$(exec_in "$server" "$memory_limit")" 134217728
check "the standard devices survive the update" exec_in "$server" 'echo kept > /dev/null'
check "the new CPU quota holds inside" same "$(exec_in "$server" "$cpu_quota")" 20000
[ "${SYSTEMD_UNITS:-}" = yes ] && check "and as MemoryMax" same "$(systemctl show -p MemoryMax --value "$unit")" 134217728
check "ContainerStatus shows the new resources" \
    same "$(cri ContainerStatus "{\"container_id\":\"$server\"}" status.resources.linux.memory_limit_in_bytes)" 134217728
check "the server's log" grep -q serving "$LOG_DIRECTORY/server.log"

# A container stops with its grace period, and the pod goes as a kubelet removes it.
check "StopContainer (client)" cri StopContainer "{\"container_id\":\"$client\",\"timeout\":2}"
check "the client exited" same "$(container_state "$client")" CONTAINER_EXITED
check "RemoveContainer (client)" cri RemoveContainer "{\"container_id\":\"$client\"}"
check "StopPodSandbox" cri StopPodSandbox "{\"pod_sandbox_id\":\"$sandbox\"}"
check "the pod is not ready" same "$(status status.state)" SANDBOX_NOTREADY
check "RemovePodSandbox" cri RemovePodSandbox "{\"pod_sandbox_id\":\"$sandbox\"}"
check "no pod is left" same "$(cri ListPodSandbox '{}')" "{}"
check "no container is left" same "$(cri ListContainers '{}')" "{}"
check "skiff has no container left" same "$("$SKIFF" --root "$SKIFF_ROOT" list -q)" ""
[ "${SYSTEMD_UNITS:-}" = yes ] && check "no scope of the pod is left" same "$(systemctl list-units --all --no-legend 'cri-containerd-*')" ""
finish
