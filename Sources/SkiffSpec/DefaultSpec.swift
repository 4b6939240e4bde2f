// SPDX-License-Identifier: Apache-2.0
extension Spec {
    /// The `config.json` that `skiff spec` writes: the same defaults `runc spec` uses (minus a
    /// terminal, which skiff does not provide yet), plus the default container seccomp profile
    /// that container engines add.
    public static func defaultSpec(rootfs: String = "rootfs") -> Spec {
        let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        return Spec(
            ociVersion: Spec.version,
            process: Process(
                terminal: false,
                user: User(uid: 0, gid: 0),
                args: ["sh"],
                env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                cwd: "/",
                capabilities: Capabilities(bounding: caps, effective: caps, permitted: caps),
                rlimits: [Rlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)],
                noNewPrivileges: true
            ),
            root: Root(path: rootfs, readonly: true),
            hostname: "skiff",
            mounts: [
                Mount(destination: "/proc", type: "proc", source: "proc"),
                Mount(
                    destination: "/dev", type: "tmpfs", source: "tmpfs",
                    options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
                Mount(
                    destination: "/dev/pts", type: "devpts", source: "devpts",
                    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
                Mount(
                    destination: "/dev/shm", type: "tmpfs", source: "shm",
                    options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
                Mount(
                    destination: "/dev/mqueue", type: "mqueue", source: "mqueue",
                    options: ["nosuid", "noexec", "nodev"]),
                Mount(
                    destination: "/sys", type: "sysfs", source: "sysfs",
                    options: ["nosuid", "noexec", "nodev", "ro"]),
                Mount(
                    destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
                    options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
            ],
            linux: Linux(
                namespaces: [.init(.pid), .init(.network), .init(.ipc), .init(.uts), .init(.mount), .init(.cgroup)],
                resources: Resources(devices: [DeviceCgroup(allow: false, access: "rwm")]),
                seccomp: .defaultProfile,
                maskedPaths: [
                    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                    "/sys/devices/virtual/powercap", "/proc/scsi",
                ],
                readonlyPaths: [
                    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
                ]
            )
        )
    }

    /// What `skiff spec --rootless` writes, as `runc spec --rootless` does: a user namespace
    /// mapping container root to the calling user (and no other id), no network namespace
    /// (so /sys is bound from the host), no devpts gid that would be unmapped, and no
    /// resources (an unprivileged user usually has no cgroup to give them).
    public static func rootlessSpec(uid: UInt32, gid: UInt32, rootfs: String = "rootfs") -> Spec {
        var spec = defaultSpec(rootfs: rootfs)
        spec.linux?.namespaces = [.init(.pid), .init(.ipc), .init(.uts), .init(.mount), .init(.cgroup), .init(.user)]
        spec.linux?.uidMappings = [IDMapping(containerID: 0, hostID: uid, size: 1)]
        spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: gid, size: 1)]
        spec.linux?.resources = nil
        spec.mounts = spec.mounts?.map { mount in
            var mount = mount
            if mount.destination == "/sys" {
                mount = Mount(destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"])
            }
            mount.options = mount.options?.filter { $0 != "gid=5" }
            return mount
        }
        return spec
    }
}
