// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffNetwork
import SkiffSpec
import Testing

/// `skiff features` is true: everything it lists is used here, for real.
@Suite("features")
struct FeaturesTests {
    static func features() throws -> [String: Any] {
        let result = Harness.skiff(["features"])
        return try #require(try JSONSerialization.jsonObject(with: result.stdout.data(using: .utf8)!) as? [String: Any])
    }

    static func linux() throws -> [String: Any] { try #require(try features()["linux"] as? [String: Any]) }

    /// The network annotations it lists are the ones the parser takes (and the only ones).
    @Test func everyNetworkAnnotationListedIsUnderstood() throws {
        let annotations = try #require(try Self.features()["annotations"] as? [String: String])
        let keys = try #require(annotations["io.skiff.network"]).split(separator: ",").map(String.init)
        let samples = ["bridge": "br1", "subnet": "10.9.0.0/16", "address": "10.9.0.7", "groups": "web", "ingress": "tcp 80 web", "egress": "udp 53 10.9.0.1"]
        #expect(Set(keys) == Set(samples.keys.map { NetworkConfig.prefix + $0 }))
        for key in keys {
            let value = samples[String(key.dropFirst(NetworkConfig.prefix.count))]!
            let subnet = key.hasSuffix(".address") ? [NetworkConfig.prefix + "subnet": "10.9.0.0/16"] : [:]
            #expect(throws: Never.self) { _ = try NetworkConfig.parse(annotations: [key: value].merging(subnet) { a, _ in a }) }
        }
    }

    /// Spec 1.3's document: its version, netDevices and memoryPolicy, and the annotations that
    /// change what skiff does (a prefix ends with "."), which every network key falls under.
    @Test func theDocumentIsRuntimeSpec13s() throws {
        let features = try Self.features()
        #expect(features["ociVersionMax"] as? String == "1.3.0")
        #expect(features["ociVersionMin"] as? String == "1.0.0")
        let linux = try Self.linux()
        #expect((linux["netDevices"] as? [String: Bool])?["enabled"] == true)
        #expect((linux["memoryPolicy"] as? [String: [String]])?["modes"]?.contains("MPOL_INTERLEAVE") == true)
        let unsafe = try #require(features["potentiallyUnsafeConfigAnnotations"] as? [String])
        #expect(unsafe == ["io.skiff.network."])
        for key in NetworkConfig.keys { #expect(unsafe.contains { $0.hasSuffix(".") && (NetworkConfig.prefix + key).hasPrefix($0) }) }
    }

    @Test func everyNamespaceListedWorksTogether() throws {
        let namespaces = try #require(try Self.linux()["namespaces"] as? [String])
        #expect(Set(namespaces) == ["cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"])
        let rootfs = try UserNamespaceTests.mappedRootfs()
        defer { try? FileManager.default.removeItem(atPath: (rootfs as NSString).deletingLastPathComponent) }
        let sandbox = Sandbox(args: [
            "sh", "-c", "for n in \(namespaces.map { $0 == "network" ? "net" : $0 == "mount" ? "mnt" : $0 }.joined(separator: " ")); do readlink /proc/self/ns/$n; done",
        ])
        sandbox.spec.root = .init(path: rootfs)
        sandbox.spec.linux?.namespaces = namespaces.map { Spec.Namespace(type: $0) }
        sandbox.spec.linux?.uidMappings = UserNamespaceTests.mapping
        sandbox.spec.linux?.gidMappings = UserNamespaceTests.mapping
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        for line in result.output.split(separator: "\n") {
            let kind = String(line.split(separator: ":").first ?? "")
            let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(kind)")
            #expect(String(line) != host, "\(kind) is the host's")
        }
    }

    /// Every memory policy mode and flag listed is one a config may name (recognized: this
    /// kernel may still refuse one, as set_mempolicy does for a mode it predates).
    @Test func everyMemoryPolicyModeAndFlagListedIsRecognized() throws {
        let policy = try #require(try Self.linux()["memoryPolicy"] as? [String: Any])
        let modes = try #require(policy["modes"] as? [String]), flags = try #require(policy["flags"] as? [String])
        #expect(
            Set(modes) == [
                "MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL",
            ])
        #expect(Set(flags) == ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"])
        for mode in modes {
            var spec = Spec.defaultSpec(rootfs: "/r")
            let nodes = SpecValidator.memoryPolicyModesWithoutNodes.contains(mode) ? nil : "0"
            spec.linux?.memoryPolicy = Spec.MemoryPolicy(mode: mode, nodes: nodes, flags: mode == "MPOL_DEFAULT" ? nil : [flags[0]])
            #expect(throws: Never.self) { try SpecValidator.validate(spec) }
        }
    }

    @Test func everyCapabilityListedCanBeGranted() throws {
        let listed = try #require(try Self.linux()["capabilities"] as? [String])
        let last = Int(try String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(Set(listed) == Set(LinuxNames.capabilities.filter { $0.value <= last }.keys))
        // Granted: every listed one this test process holds itself (a sandbox may lack some).
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let held = UInt64(status.split(separator: "\n").first { $0.hasPrefix("CapPrm:") }!.dropFirst(8), radix: 16)!
        let capabilities = listed.filter { held & (1 << UInt64(LinuxNames.capabilities[$0]!)) != 0 }
        let sandbox = Sandbox(args: ["grep", "CapBnd", "/proc/self/status"])
        sandbox.spec.process?.capabilities = .init(bounding: capabilities, effective: capabilities, permitted: capabilities)
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        let mask = capabilities.reduce(UInt64(0)) { $0 | 1 << UInt64(LinuxNames.capabilities[$1]!) }
        let hex = String(mask, radix: 16)
        #expect(result.output == "CapBnd:\t" + String(repeating: "0", count: 16 - hex.count) + hex)
    }

    @Test func everySeccompActionOperatorArchitectureAndFlagListedWorks() throws {
        let seccomp = try #require(try Self.linux()["seccomp"] as? [String: Any])
        let actions = try #require(seccomp["actions"] as? [String])
        let operators = try #require(seccomp["operators"] as? [String])
        let archs = try #require(seccomp["archs"] as? [String])
        let flags = try #require(seccomp["supportedFlags"] as? [String])
        #expect(archs.contains("SCMP_ARCH_X86_64") && archs.contains("SCMP_ARCH_AARCH64"))
        // One rule per action and operator, on syscalls these containers never make.
        let idle = ["acct", "syslog", "swapon", "swapoff", "reboot", "quotactl", "nfsservctl", "vhangup", "iopl", "ioperm", "kexec_load", "delete_module"]
        var rules: [Spec.Syscall] = []
        for (i, action) in actions.enumerated() where action != "SCMP_ACT_ALLOW" {
            rules.append(.init(names: [idle[i % idle.count]], action: action, errnoRet: action == "SCMP_ACT_ERRNO" ? 1 : nil))
        }
        for (i, op) in operators.enumerated() {
            rules.append(.init(names: [idle[(i + 3) % idle.count]], action: "SCMP_ACT_ERRNO", args: [.init(index: UInt(i % 6), value: 1, valueTwo: 1, op: op)]))
        }
        let listener = SeccompTests.startListener()
        defer { SeccompTests.stopListener(listener) }
        let profile = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW", architectures: archs.filter { ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"].contains($0) },
            flags: flags, listenerPath: listener.socket, syscalls: rules)
        let sandbox = Sandbox(args: ["sh", "-c", "grep Seccomp: /proc/self/status"])
        sandbox.spec.linux?.seccomp = profile
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output == "Seccomp:\t2")
    }

    @Test func everyMountOptionListedMounts() throws {
        let options = try #require(try Self.features()["mountOptions"] as? [String])
        let host = Harness.temporaryDirectory("skiff-options")
        defer { try? FileManager.default.removeItem(atPath: host) }
        let sandbox = Sandbox(args: ["true"])
        for (i, option) in options.enumerated() {
            let bindish = option == "bind" || option == "rbind"
            sandbox.spec.mounts?.append(
                .init(
                    destination: "/mnt/\(i)", type: bindish ? "bind" : "tmpfs",
                    source: bindish ? host : "tmpfs", options: [option]))
        }
        sandbox.spec.root?.readonly = false
        sandbox.spec.mounts?.insert(.init(destination: "/mnt", type: "tmpfs", source: "tmpfs"), at: 0)
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func theCgroupClaimsMatchTheHost() throws {
        let cgroup = try #require(try Self.linux()["cgroup"] as? [String: Bool])
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(cgroup["v2"] == mounts.contains(" - cgroup2 "))
        #expect(cgroup["v1"] == mounts.contains(" - cgroup "))
        // The systemd driver works on a pure v2 host with systemd's bus; this project's hosts are hybrid.
        let pureV2 = !mounts.contains(" - cgroup ")
        let bus = FileManager.default.fileExists(atPath: "/run/dbus/system_bus_socket") || FileManager.default.fileExists(atPath: "/run/systemd/private")
        #expect(cgroup["systemd"] == (pureV2 && bus))
    }
}
