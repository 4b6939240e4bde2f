// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffCgroups
import SkiffSpec

@testable import SkiffRuntime

/// Hosts and configs for planning without root: the planner reads nothing of the host, so a
/// test says what the host is.
enum PlanFixtures {
    static let identity = HostFacts.FileIdentity(device: 4, inode: 4_026_531_840)

    /// Root on a kernel that knows capabilities up to 40, holding them all; the node's /sys is
    /// there to bind (a user namespace's configs do).
    static let host = HostFacts(lastCapability: 40, heldCapabilities: (1 << 41) - 1, paths: ["/sys": .directory(identity)])
    /// An unprivileged user: no capabilities of its own.
    static let unprivilegedHost = HostFacts(lastCapability: 40, heldCapabilities: 0, paths: ["/sys": .directory(identity)])

    /// Debian 12's hybrid layout: v1 controllers, v2 with none.
    static let hybrid = CgroupSystem(hierarchies: [
        CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/cpu,cpuacct", controllers: ["cpu", "cpuacct"], mountData: "cpu,cpuacct"),
        CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/memory", controllers: ["memory"], mountData: "memory"),
        CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/pids", controllers: ["pids"], mountData: "pids"),
        CgroupHierarchy(version: .v2, mountPoint: "/sys/fs/cgroup/unified", controllers: []),
    ])
    /// v1 alone (no unified hierarchy mounted).
    static let v1Only = CgroupSystem(hierarchies: Array(hybrid.hierarchies.dropLast()))
    static let pureV2 = CgroupSystem(hierarchies: [
        CgroupHierarchy(version: .v2, mountPoint: "/sys/fs/cgroup", controllers: ["cpu", "io", "memory", "pids"])
    ])

    /// The container's cgroup `/golden` in every hierarchy of `system`.
    static func cgroup(on system: CgroupSystem) -> ContainerCgroup {
        ContainerCgroup(
            relativePath: "/golden",
            directories: system.participating().map {
                .init(path: $0.mountPoint + "/golden", version: $0.version, controllers: $0.controllers, hierarchyRoot: $0.mountPoint)
            })
    }

    static func options(
        cgroupOn system: CgroupSystem? = nil, driver: (any CgroupDriver)? = nil, _ change: (inout PlanBuilder.Options) -> Void = { _ in }
    ) -> PlanBuilder.Options {
        var options = PlanBuilder.Options()
        options.containerID = "golden"
        if let system {
            options.cgroup = cgroup(on: system)
            options.cgroupDriver = driver ?? CgroupfsDriver(system: system)
            if driver is SystemdDriver { options.cgroup.driver = SystemdDriver.name }
        }
        change(&options)
        return options
    }

    /// The default config, with or without a cgroup namespace of its own.
    static func withCgroupMount(cgroupNamespace: Bool) -> @Sendable () -> Spec {
        {
            var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
            spec.linux?.seccomp = nil
            if !cgroupNamespace { spec.linux?.namespaces?.removeAll { $0.kind == .cgroup } }
            return spec
        }
    }

    /// A task joining another's network and IPC namespaces and a pid namespace by path.
    @Sendable static func joiningNamespaces() -> Spec {
        var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
        spec.linux?.seccomp = nil
        spec.linux?.namespaces = [
            .init(.mount), .init(.uts), .init(type: "network", path: "/run/netns/peer"), .init(type: "ipc", path: "/proc/42/ns/ipc"),
            .init(type: "pid", path: "/proc/42/ns/pid"),
        ]
        spec.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
        return spec
    }

    static var hostWithJoinedNamespaces: HostFacts {
        var facts = host
        for path in ["/run/netns/peer", "/proc/42/ns/ipc", "/proc/42/ns/pid"] {
            facts.paths[path] = .file(.init(device: 4, inode: UInt64(path.count)))
        }
        facts.ownNamespaces = [.network: identity, .ipc: identity, .pid: identity]
        return facts
    }

    /// A bind mount idmapped to the container's user namespace, and a read-only file bind.
    @Sendable static func withIdmappedMount() -> Spec {
        var spec = Spec.rootlessSpec(uid: 1000, gid: 1000, rootfs: "/bundle/rootfs")
        var data = Spec.Mount(destination: "/data", type: "bind", source: "/srv/data", options: ["rbind", "rw", "nosuid"])
        data.uidMappings = [.init(containerID: 0, hostID: 100_000, size: 65536)]
        data.gidMappings = [.init(containerID: 0, hostID: 100_000, size: 65536)]
        let hosts = Spec.Mount(destination: "/etc/hosts", type: "bind", source: "hosts", options: ["bind", "ro"])
        spec.mounts = (spec.mounts ?? []) + [data, hosts]
        return spec
    }

    static var hostWithBindSources: HostFacts {
        var facts = host
        facts.paths["/srv/data"] = .directory(identity)
        facts.paths["/bundle/hosts"] = .file(identity)
        return facts
    }
}

/// Plan arguments as a reader wants them: MS_* and CLONE_* flags by name.
enum PlanRendering {
    static let mountFlags: [(Int64, String)] = [
        (1, "RDONLY"), (2, "NOSUID"), (4, "NODEV"), (8, "NOEXEC"), (16, "SYNCHRONOUS"), (32, "REMOUNT"), (64, "MANDLOCK"),
        (128, "DIRSYNC"), (1024, "NOATIME"), (2048, "NODIRATIME"), (4096, "BIND"), (8192, "MOVE"), (16384, "REC"),
        (32768, "SILENT"), (1 << 17, "UNBINDABLE"), (1 << 18, "PRIVATE"), (1 << 19, "SLAVE"), (1 << 20, "SHARED"),
        (1 << 21, "RELATIME"), (1 << 24, "STRICTATIME"),
    ]
    static let cloneFlags: [(Int64, String)] = [
        (Int64(SKIFF_CLONE_NEWNS), "NEWNS"), (Int64(SKIFF_CLONE_NEWCGROUP), "NEWCGROUP"), (Int64(SKIFF_CLONE_NEWUTS), "NEWUTS"),
        (Int64(SKIFF_CLONE_NEWIPC), "NEWIPC"), (Int64(SKIFF_CLONE_NEWUSER), "NEWUSER"), (Int64(SKIFF_CLONE_NEWPID), "NEWPID"),
        (Int64(SKIFF_CLONE_NEWNET), "NEWNET"), (Int64(SKIFF_CLONE_NEWTIME), "NEWTIME"),
    ]

    static func names(_ value: Int64, _ table: [(Int64, String)], prefix: String) -> String {
        if value == 0 { return "0" }
        var rest = value
        var names: [String] = []
        for (bit, name) in table where rest & bit == bit {
            names.append(prefix + name)
            rest &= ~bit
        }
        if rest != 0 { names.append(String(rest)) }
        return names.joined(separator: "|")
    }

    /// The operation's arguments, flags by name where skiff_plan.h says they are flags.
    static func arguments(of op: PlanOperation) -> [String] {
        var args = op.args.map(String.init)
        func mount(_ i: Int) { if i < args.count { args[i] = names(op.args[i], mountFlags, prefix: "MS_") } }
        func clone(_ i: Int) { if i < args.count { args[i] = names(op.args[i], cloneFlags, prefix: "CLONE_") } }
        switch op.code {
        case SKIFF_OP_MOUNT:
            mount(0)
            mount(1)
            mount(2)
        case SKIFF_OP_REMOUNT, SKIFF_OP_PROPAGATE: mount(0)
        case SKIFF_OP_UNSHARE: clone(0)
        case SKIFF_OP_SETNS: clone(1)
        default: break
        }
        return args
    }
}
