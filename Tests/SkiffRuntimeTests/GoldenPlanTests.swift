// SPDX-License-Identifier: Apache-2.0
import CShims
import Foundation
import SkiffCgroups
import SkiffSpec
import Testing

@testable import SkiffRuntime

/// The launch plan of representative configs, operation by operation, against a golden file
/// (`golden/NAME.plan`): a change to the create path shows up here as a readable diff. The
/// planner reads nothing of the host, so each config also says the host it is planned for
/// (`PlanFixtures`): hybrid, v1 and pure v2 cgroups, joined namespaces, idmapped mounts,
/// user namespaces, rootless, exec, all without root. Set SKIFF_UPDATE_GOLDEN=1 to write the
/// files anew after a change that is meant.
@Suite("golden launch plans")
struct GoldenPlanTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("golden").path

    /// One line per operation: its name (skiff_plan.h's table), its arguments (mount and
    /// clone flags by name), its strings; then the descriptors the plan asks for.
    static func render(_ plan: LaunchPlan) -> String {
        let operations = plan.operations.map { op in
            let args = PlanRendering.arguments(of: op).joined(separator: " ")
            let strings = op.strings.map { "\"\($0.replacingOccurrences(of: "\n", with: "\\n"))\"" }.joined(separator: " ")
            return [op.name, args, strings].filter { !$0.isEmpty }.joined(separator: " ")
        }
        let descriptors = plan.descriptors.enumerated().map { "FD \($0.offset): \($0.element)" }
        return (operations + descriptors).joined(separator: "\n") + "\n"
    }

    struct Config: Sendable {
        var name: String
        var spec: @Sendable () -> Spec
        var host: HostFacts = PlanFixtures.host
        var options: @Sendable () -> PlanBuilder.Options = { PlanFixtures.options() }
        var exec = false
    }

    static func withoutSeccomp() -> Spec {
        var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
        spec.linux?.seccomp = nil
        return spec
    }

    static let configs: [Config] = [
        Config(name: "default", spec: withoutSeccomp),
        Config(
            name: "seccomp-without-nnp",
            spec: {
                var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
                spec.process?.noNewPrivileges = false
                return spec
            },
            options: { PlanFixtures.options { $0.seccompFlags = 0 } }),
        Config(name: "user-namespace", spec: { Spec.rootlessSpec(uid: 1000, gid: 1000, rootfs: "/bundle/rootfs") }),
        Config(
            name: "rootless-without-cgroups", spec: { Spec.rootlessSpec(uid: 1000, gid: 1000, rootfs: "/bundle/rootfs") },
            host: PlanFixtures.unprivilegedHost),
        Config(
            name: "no-mount-namespace",
            spec: {
                var spec = withoutSeccomp()
                spec.mounts = nil
                spec.linux?.maskedPaths = nil
                spec.linux?.readonlyPaths = nil
                spec.linux?.namespaces?.removeAll { $0.kind == .mount }
                spec.root?.readonly = false
                spec.process?.env = ["PATH=/bin", "HOME=/root"]
                spec.process?.user = .init(uid: 1000, gid: 1000, additionalGids: [10, 20])
                return spec
            }),
        Config(
            name: "hooks-and-sysctls",
            spec: {
                var spec = withoutSeccomp()
                spec.linux?.sysctl = ["net.ipv4.ip_forward": "1", "kernel.shmmni": "100"]
                spec.hooks = .init(
                    prestart: [.init(path: "/bin/true")], createContainer: [.init(path: "/bin/true", args: ["true", "c"])],
                    startContainer: [.init(path: "/bin/true", timeout: 5)])
                spec.process?.rlimits = [.init(type: "RLIMIT_NOFILE", hard: 1024, soft: 512)]
                spec.process?.oomScoreAdj = 100
                return spec
            },
            options: { PlanFixtures.options { $0.network = true } }),
        Config(
            name: "scheduling-and-personality",
            spec: {
                var spec = withoutSeccomp()
                spec.process?.scheduler = .init(policy: "SCHED_DEADLINE", flags: ["SCHED_FLAG_RESET_ON_FORK"], runtime: 1, deadline: 2, period: 3)
                spec.process?.ioPriority = .init(class: "IOPRIO_CLASS_IDLE", priority: 7)
                spec.linux?.personality = .init(domain: "LINUX32")
                spec.linux?.memoryPolicy = .init(mode: "MPOL_INTERLEAVE", nodes: "0-2,5", flags: ["MPOL_F_STATIC_NODES"])
                return spec
            }),
        Config(
            name: "cgroup-hybrid", spec: PlanFixtures.withCgroupMount(cgroupNamespace: false),
            options: { PlanFixtures.options(cgroupOn: PlanFixtures.hybrid) }),
        Config(
            name: "cgroup-hybrid-namespace", spec: PlanFixtures.withCgroupMount(cgroupNamespace: true),
            options: { PlanFixtures.options(cgroupOn: PlanFixtures.hybrid) }),
        Config(
            name: "cgroup-v1", spec: PlanFixtures.withCgroupMount(cgroupNamespace: false),
            options: { PlanFixtures.options(cgroupOn: PlanFixtures.v1Only) }),
        Config(
            name: "cgroup-v2", spec: PlanFixtures.withCgroupMount(cgroupNamespace: false),
            options: { PlanFixtures.options(cgroupOn: PlanFixtures.pureV2) }),
        Config(
            name: "cgroup-v2-namespace", spec: PlanFixtures.withCgroupMount(cgroupNamespace: true),
            options: { PlanFixtures.options(cgroupOn: PlanFixtures.pureV2) }),
        Config(
            name: "cgroup-v2-systemd", spec: PlanFixtures.withCgroupMount(cgroupNamespace: true),
            options: { PlanFixtures.options(cgroupOn: PlanFixtures.pureV2, driver: SystemdDriver(system: PlanFixtures.pureV2, user: false)) }),
        Config(name: "joined-namespaces", spec: PlanFixtures.joiningNamespaces, host: PlanFixtures.hostWithJoinedNamespaces),
        Config(name: "idmapped-mounts", spec: PlanFixtures.withIdmappedMount, host: PlanFixtures.hostWithBindSources),
        Config(
            name: "exec", spec: withoutSeccomp,
            options: {
                PlanFixtures.options {
                    $0.waitForStart = false
                    $0.console = true
                    $0.seccompFlags = 1 << 3
                }
            }, exec: true),
    ]

    static func plan(_ config: Config) throws -> LaunchPlan {
        var builder = PlanBuilder(spec: config.spec(), bundle: "/bundle", rootfs: "/bundle/rootfs", host: config.host, options: config.options())
        if config.exec {
            var process = config.spec().process!
            process.args = ["/bin/sh", "-c", "echo exec"]
            process.terminal = true
            process.execCPUAffinity = .init(initial: "0", final: "0-1")
            let flags = PlanBuilder.cloneFlags[.pid]! | PlanBuilder.cloneFlags[.mount]! | PlanBuilder.cloneFlags[.network]!
            return try builder.buildExec(process: process, namespaceFlags: flags).plan
        }
        return try builder.build().plan
    }

    @Test(arguments: configs.map(\.name))
    func planMatchesItsGoldenFile(_ name: String) throws {
        let config = try #require(Self.configs.first { $0.name == name })
        let rendered = Self.render(try Self.plan(config))
        let path = Self.directory + "/\(name).plan"
        if ProcessInfo.processInfo.environment["SKIFF_UPDATE_GOLDEN"] != nil {
            try rendered.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOfFile: path, encoding: .utf8)
        #expect(rendered == golden, "the plan of \(name) changed:\n\(rendered)")
    }

    /// Every operation skiff-init knows has a name in skiff_plan.h's one table.
    @Test func everyOperationHasItsNameInTheSharedTable() {
        for code in 0...40 where code != 0 {
            let name = PlanOperation(skiff_op(rawValue: UInt32(code))).name
            #expect(!name.hasPrefix("operation"), "operation \(code) has no name in skiff_plan.h")
        }
        #expect(PlanOperation(skiff_op(rawValue: 999)).name == "operation 999")
    }

    /// The wire format of skiff_plan.h: a header of size, op, nstr and six 64-bit arguments,
    /// the strings NUL-terminated, padded to 8 bytes; and a plan ends with END.
    @Test func operationsEncodeAsTheHeaderSays() throws {
        let bytes = LaunchPlan.encode(PlanOperation(SKIFF_OP_SYSCTL, args: [7], strings: ["net.x", "1"]))
        let header = MemoryLayout<skiff_op_header>.size
        #expect(header == 4 + 2 + 2 + 6 * 8)
        #expect(bytes.count == (header + 6 + 2 + 7) & ~7)
        #expect(Int(bytes[0]) | Int(bytes[1]) << 8 == bytes.count)
        #expect(UInt32(bytes[4]) | UInt32(bytes[5]) << 8 == SKIFF_OP_SYSCTL.rawValue)
        #expect(bytes[6] == 2)  // nstr
        #expect(bytes[8] == 7)  // arg0
        #expect(Array(bytes[header..<(header + 8)]) == Array("net.x".utf8) + [0] + Array("1".utf8) + [0])
        var plan = LaunchPlan()
        plan.sysctl("a", "b")
        let messages = try plan.messages()
        #expect(messages.count == 1)
        #expect(messages[0].count == LaunchPlan.encode(PlanOperation(SKIFF_OP_SYSCTL, strings: ["a", "b"])).count + LaunchPlan.encode(PlanOperation(SKIFF_OP_END)).count)
    }

    /// Strings and counts skiff-init cannot take are refused before anything exists.
    @Test func planLimitsAreCheckedUpFront() throws {
        var plan = LaunchPlan()
        plan.user(uid: 1, gid: 1, umask: nil, additionalGids: Array(repeating: 4_000_000_000, count: 7000))
        #expect(throws: SpecError.self) { try plan.checkLimits() }
        var small = LaunchPlan()
        small.user(uid: 1, gid: 1, umask: nil, additionalGids: Array(1...100))
        try small.checkLimits()
    }
}
