// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffCgroups
import SkiffNetwork
import SkiffSeccomp
import SkiffSpec

extension Runtime {
    /// The runtime-spec `features` document: what this skiff, on this host, supports. Every
    /// list comes from the tables the code itself uses, so nothing is claimed by hand.
    public static func features() -> JSONValue {
        func strings(_ values: [String]) -> JSONValue { .array(values.map(JSONValue.string)) }
        let system = CgroupSystem.current()
        let last = Int(skiff_last_capability())
        let capabilities = LinuxNames.capabilities.filter { $0.value <= last }.sorted { $0.value < $1.value }.map(\.key)
        let seccomp: JSONValue = .object([
            ("enabled", .bool(true)),
            ("actions", strings(SeccompNames.actionNames)),
            ("operators", strings(SeccompNames.operatorNames)),
            ("archs", strings(SeccompNames.architectureNames)),
            ("knownFlags", strings(SeccompNames.flagNames)),
            ("supportedFlags", strings(SeccompNames.flagNames)),
        ])
        let cgroup: JSONValue = .object([
            ("v1", .bool(!system.v1.isEmpty)), ("v2", .bool(system.unified != nil)),
            // `--systemd-cgroup` works here: a pure v2 host with systemd's bus (the user's for
            // systemdUser).
            ("systemd", .bool(system.isPureV2 && SystemdDriver.managerReachable(user: false))),
            ("systemdUser", .bool(system.isPureV2 && SystemdDriver.managerReachable(user: true))),
            ("rdma", .bool(system.hierarchy(for: "rdma") != nil)),
        ])
        let linux: JSONValue = .object([
            ("namespaces", strings(Spec.NamespaceKind.allCases.map(\.rawValue).sorted())),
            ("capabilities", strings(capabilities)),
            ("cgroup", cgroup),
            ("seccomp", seccomp),
            // What skiff applies on this host: a module the kernel has not enabled is refused.
            ("apparmor", .object([("enabled", .bool(SecurityModules.appArmorEnabled))])),
            ("selinux", .object([("enabled", .bool(SecurityModules.selinuxEnabled))])),
            ("intelRdt", .object([("enabled", .bool(false))])),
            // Moved in as linux.netDevices asks, except what the node itself relies on.
            ("netDevices", .object([("enabled", .bool(true))])),
            ("mountExtensions", .object([("idmap", .object([("enabled", .bool(true))]))])),
            // Recognized, whether or not this kernel has NUMA (set_mempolicy then refuses, at create).
            (
                "memoryPolicy",
                .object([
                    ("modes", strings(LinuxNames.memoryPolicyModes.keys.sorted())), ("flags", strings(LinuxNames.memoryPolicyFlags.keys.sorted())),
                ])
            ),
        ])
        // runc's annotation: whether `checkpoint` works here (CRIU installed and its check
        // passing on this kernel); skiff's own says CRIU's version or why not.
        let checkpoint: (enabled: Bool, said: String) =
            switch CRIU.availability() {
            case .available(let version): (true, "criu " + version)
            case .unavailable(let reason): (false, reason)
            }
        return .object([
            ("ociVersionMin", .string("1.0.0")),
            ("ociVersionMax", .string(Spec.version)),
            ("hooks", strings(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"])),
            ("mountOptions", strings(MountOptions.names)),
            ("linux", linux),
            // Annotations that change what skiff does (spec 1.3): a task's network is made from
            // them, so an engine passing its users' annotations through must vet these.
            ("potentiallyUnsafeConfigAnnotations", strings([NetworkConfig.prefix])),
            // The per-task network annotations this skiff understands (see the README).
            (
                "annotations",
                .object([
                    ("org.skiff.version", .string(version)),
                    ("org.opencontainers.runc.checkpoint.enabled", .string(String(checkpoint.enabled))),
                    ("org.skiff.checkpoint", .string(checkpoint.said)),
                    ("io.skiff.network", .string(NetworkConfig.keys.map { NetworkConfig.prefix + $0 }.joined(separator: ","))),
                ])
            ),
        ])
    }

    public static let version = "0.1.0"
}
