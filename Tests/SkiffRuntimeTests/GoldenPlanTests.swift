import CShims
import Foundation
import SkiffCgroups
import SkiffSpec
import Testing

@testable import SkiffRuntime

/// The launch plan of representative configs, operation by operation, against a golden file
/// (`golden/NAME.plan`): a change to the create path shows up here as a readable diff. Set
/// SKIFF_UPDATE_GOLDEN=1 to write the files anew after a change that is meant.
@Suite("golden launch plans")
struct GoldenPlanTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("golden").path

    /// One line per operation: its name, its arguments, its strings.
    static func render(_ plan: LaunchPlan) -> String {
        plan.operations.map { op in
            let name = names[op.code.rawValue] ?? "OP\(op.code.rawValue)"
            let args = op.args.map(String.init).joined(separator: " ")
            let strings = op.strings.map { "\"\($0)\"" }.joined(separator: " ")
            return [name, args, strings].filter { !$0.isEmpty }.joined(separator: " ")
        }.joined(separator: "\n") + "\n"
    }

    static let names: [UInt32: String] = [
        SKIFF_OP_SETNS.rawValue: "SETNS", SKIFF_OP_UNSHARE.rawValue: "UNSHARE", SKIFF_OP_FORK.rawValue: "FORK",
        SKIFF_OP_SYNC.rawValue: "SYNC", SKIFF_OP_HOSTNAME.rawValue: "HOSTNAME", SKIFF_OP_DOMAINNAME.rawValue: "DOMAINNAME",
        SKIFF_OP_RLIMIT.rawValue: "RLIMIT", SKIFF_OP_OOM_SCORE_ADJ.rawValue: "OOM_SCORE_ADJ", SKIFF_OP_PROPAGATE.rawValue: "PROPAGATE",
        SKIFF_OP_ROOTFS.rawValue: "ROOTFS", SKIFF_OP_MOUNT.rawValue: "MOUNT", SKIFF_OP_REMOUNT.rawValue: "REMOUNT",
        SKIFF_OP_MKNOD.rawValue: "MKNOD", SKIFF_OP_SYMLINK.rawValue: "SYMLINK", SKIFF_OP_PIVOT.rawValue: "PIVOT",
        SKIFF_OP_READONLY_ROOT.rawValue: "READONLY_ROOT", SKIFF_OP_READONLY_PATH.rawValue: "READONLY_PATH",
        SKIFF_OP_MASK_PATH.rawValue: "MASK_PATH", SKIFF_OP_SYSCTL.rawValue: "SYSCTL", SKIFF_OP_CHDIR.rawValue: "CHDIR",
        SKIFF_OP_USER.rawValue: "USER", SKIFF_OP_CAPS.rawValue: "CAPS", SKIFF_OP_NO_NEW_PRIVS.rawValue: "NO_NEW_PRIVS",
        SKIFF_OP_CLOSE_FDS.rawValue: "CLOSE_FDS", SKIFF_OP_EXEC.rawValue: "EXEC", SKIFF_OP_MKDIR.rawValue: "MKDIR",
        SKIFF_OP_BOUNDING.rawValue: "BOUNDING", SKIFF_OP_SESSION_KEYRING.rawValue: "SESSION_KEYRING",
        SKIFF_OP_SECCOMP.rawValue: "SECCOMP", SKIFF_OP_TIME_NAMESPACE.rawValue: "TIME_NAMESPACE",
        SKIFF_OP_USERNS_ROOT.rawValue: "USERNS_ROOT", SKIFF_OP_HOOK.rawValue: "HOOK", SKIFF_OP_CONSOLE.rawValue: "CONSOLE",
        SKIFF_OP_CHROOT.rawValue: "CHROOT", SKIFF_OP_EXEC_LABEL.rawValue: "EXEC_LABEL",
        SKIFF_OP_PERSONALITY.rawValue: "PERSONALITY", SKIFF_OP_IO_PRIORITY.rawValue: "IO_PRIORITY",
        SKIFF_OP_SCHEDULER.rawValue: "SCHEDULER", SKIFF_OP_CPU_AFFINITY.rawValue: "CPU_AFFINITY",
    ]

    /// The same host for every run: no cgroup hierarchies, a fixed capability range.
    static func plan(_ spec: Spec, waitForStart: Bool = true, configure: (inout PlanBuilder) -> Void = { _ in }) throws -> LaunchPlan {
        var builder = PlanBuilder(spec: spec, bundle: "/bundle", rootfs: "/bundle/rootfs", cgroupSystem: CgroupSystem(hierarchies: []), cgroup: nil)
        builder.lastCapability = 40
        builder.containerID = "golden"
        configure(&builder)
        return try builder.build(waitForStart: waitForStart).plan
    }

    static let configs: [(name: String, spec: @Sendable () -> Spec, configure: @Sendable (inout PlanBuilder) -> Void)] = [
        (
            "default",
            {
                var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
                spec.linux?.seccomp = nil
                return spec
            }, { _ in }
        ),
        (
            "seccomp-without-nnp",
            {
                var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
                spec.process?.noNewPrivileges = false
                return spec
            }, { $0.seccomp = (descriptor: 9, flags: 0) }
        ),
        ("user-namespace", { Spec.rootlessSpec(uid: 1000, gid: 1000, rootfs: "/bundle/rootfs") }, { _ in }),
        (
            "no-mount-namespace",
            {
                var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
                spec.mounts = nil
                spec.linux?.maskedPaths = nil
                spec.linux?.readonlyPaths = nil
                spec.linux?.seccomp = nil
                spec.linux?.namespaces?.removeAll { $0.kind == .mount }
                spec.root?.readonly = false
                spec.process?.env = ["PATH=/bin", "HOME=/root"]
                spec.process?.user = .init(uid: 1000, gid: 1000, additionalGids: [10, 20])
                return spec
            }, { _ in }
        ),
        (
            "hooks-and-sysctls",
            {
                var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
                spec.linux?.seccomp = nil
                spec.linux?.sysctl = ["net.ipv4.ip_forward": "1", "kernel.shmmni": "100"]
                spec.hooks = .init(
                    prestart: [.init(path: "/bin/true")], createContainer: [.init(path: "/bin/true", args: ["true", "c"])],
                    startContainer: [.init(path: "/bin/true", timeout: 5)])
                spec.process?.rlimits = [.init(type: "RLIMIT_NOFILE", hard: 1024, soft: 512)]
                spec.process?.oomScoreAdj = 100
                return spec
            }, { $0.network = true }
        ),
        (
            "scheduling-and-personality",
            {
                var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
                spec.linux?.seccomp = nil
                spec.process?.scheduler = .init(policy: "SCHED_DEADLINE", flags: ["SCHED_FLAG_RESET_ON_FORK"], runtime: 1, deadline: 2, period: 3)
                spec.process?.ioPriority = .init(class: "IOPRIO_CLASS_IDLE", priority: 7)
                spec.linux?.personality = .init(domain: "LINUX32")
                return spec
            }, { _ in }
        ),
    ]

    @Test(arguments: configs.map(\.name))
    func planMatchesItsGoldenFile(_ name: String) throws {
        let config = try #require(Self.configs.first { $0.name == name })
        let rendered = Self.render(try Self.plan(config.spec(), configure: config.configure))
        let path = Self.directory + "/\(name).plan"
        if ProcessInfo.processInfo.environment["SKIFF_UPDATE_GOLDEN"] != nil {
            try rendered.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOfFile: path, encoding: .utf8)
        #expect(rendered == golden, "the plan of \(name) changed:\n\(rendered)")
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
