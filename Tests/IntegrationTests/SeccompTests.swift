// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@Suite("seccomp filters, enforced in real containers")
struct SeccompTests {
    func sandbox(_ script: String, _ seccomp: Spec.Seccomp) -> Sandbox {
        let sandbox = Sandbox(args: ["sh", "-c", script])
        sandbox.spec.root?.readonly = false
        sandbox.spec.mounts?.append(.init(destination: "/tmp", type: "tmpfs", source: "tmpfs"))
        sandbox.spec.linux?.seccomp = seccomp
        return sandbox
    }

    @Test func theDefaultProfileIsLoaded() {
        let sandbox = Sandbox(args: ["grep", "-E", "^Seccomp:", "/proc/self/status"])
        #expect(sandbox.spec.linux?.seccomp == .defaultProfile)
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output == "Seccomp:\t2")
        // One filter: the default profile, nothing stacked.
        let filters = Sandbox(args: ["grep", "-E", "^Seccomp_filters:", "/proc/self/status"]).run()
        #expect(filters.output == "Seccomp_filters:\t1")
    }

    @Test func aDeniedSyscallReturnsTheConfiguredErrno() {
        let profile = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [
                .init(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1)
            ])
        let result = sandbox("mkdir /tmp/denied; echo rc=$?; touch /tmp/allowed && echo touched", profile).run()
        #expect(result.stderr.contains("Operation not permitted"))
        #expect(result.stdout.contains("rc=1"))
        #expect(result.stdout.contains("touched"))
    }

    @Test func killProcessKillsWithSIGSYS() {
        let profile = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [
                .init(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_KILL_PROCESS")
            ])
        let result = sandbox("mkdir /tmp/x; echo rc=$?", profile).run()
        #expect(result.stdout.contains("rc=\(128 + SIGSYS)"), "\(result.stdout)")
    }

    @Test(arguments: ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"])
    func killThreadKillsASingleThreadedProcessWithSIGSYS(_ action: String) {
        let profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["mkdir", "mkdirat"], action: action)])
        let result = sandbox("mkdir /tmp/x; echo rc=$?", profile).run()
        #expect(result.stdout.contains("rc=\(128 + SIGSYS)"), "\(result.stdout)")
    }

    /// SCMP_ACT_TRACE with no tracer attached: the syscall fails with ENOSYS.
    @Test func traceWithoutATracerFailsWithENOSYS() {
        let profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_TRACE", errnoRet: 7)])
        let result = sandbox("mkdir /tmp/x; echo rc=$?", profile).run()
        #expect(result.stderr.contains("Function not implemented"), "\(result.stderr)")
    }

    @Test func argumentFiltersAllowPersonalityZeroButNotEight() {
        let profile = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [
                .init(names: ["personality"], action: "SCMP_ACT_ERRNO", errnoRet: 1, args: [.init(index: 0, value: 8, op: "SCMP_CMP_EQ")])
            ])
        let result = sandbox("linux64 true && echo zero-ok; linux32 true && echo eight-ok; echo done", profile).run()
        #expect(result.stdout.contains("zero-ok"))
        #expect(!result.stdout.contains("eight-ok"))
        #expect(result.stdout.contains("done"))
    }

    @Test func everyOperatorCompilesAndMaskedEqualWorks() {
        var rules: [Spec.Syscall] = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GE", "SCMP_CMP_GT"].map {
            .init(names: ["getpriority"], action: "SCMP_ACT_ERRNO", errnoRet: 1, args: [.init(index: 0, value: 1000, op: $0)])
        }
        // personality(PER_LINUX32) has bit 3 set: (arg & 0x8) == 0x8 denies it.
        rules.append(
            .init(
                names: ["personality"], action: "SCMP_ACT_ERRNO", errnoRet: 1,
                args: [.init(index: 0, value: 8, valueTwo: 8, op: "SCMP_CMP_MASKED_EQ")]))
        let result = sandbox("linux64 true && echo zero-ok; linux32 true && echo eight-ok", .init(defaultAction: "SCMP_ACT_ALLOW", syscalls: rules)).run()
        #expect(result.stdout.contains("zero-ok"), "\(result.stderr)")
        #expect(!result.stdout.contains("eight-ok"))
    }

    @Test func logTrapAndFlagsAreAccepted() {
        let profile = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            syscalls: [
                .init(names: ["getppid"], action: "SCMP_ACT_LOG"),
                .init(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_TRAP"),
                .init(names: ["no_such_syscall_anywhere"], action: "SCMP_ACT_ERRNO"),
            ])
        let box = sandbox("mkdir /tmp/x; echo rc=$?", profile)
        let result = box.run()
        #expect(result.stdout.contains("rc=\(128 + SIGSYS)"), "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("unknown syscall \"no_such_syscall_anywhere\", skipped"))
    }

    @Test func withoutNoNewPrivilegesTheFilterIsLoadedBeforeCapabilitiesDrop() {
        let profile = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [
                .init(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1)
            ])
        let box = sandbox("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /tmp/x", profile)
        box.spec.process?.noNewPrivileges = false
        box.spec.process?.user = .init(uid: 1000, gid: 1000)
        let result = box.run()
        #expect(result.stdout.contains("Seccomp:\t2"), "\(result.stderr)")
        #expect(result.stdout.contains("NoNewPrivs:\t0"))
        #expect(result.stderr.contains("Operation not permitted"))
    }

    /// The seccomp listener (helpers/seccomp-listener.c) on a fresh socket, answering every notification with `errno`.
    /// The socket's directory is removed by `stopListener`.
    static func stopListener(_ listener: (process: Harness.Running, socket: String)) {
        kill(listener.process.pid, SIGKILL)
        listener.process.finish()
        try? FileManager.default.removeItem(atPath: (listener.socket as NSString).deletingLastPathComponent)
    }

    static func startListener(answering errno: Int32 = ENOTSUP) -> (process: Harness.Running, socket: String) {
        let socket = Harness.temporaryDirectory("skiff-listener") + "/listener.sock"
        let listener = Harness.start([socket, String(errno)], executable: Harness.repository + "/.build/seccomp-listener")
        Harness.waitFor(seconds: 10, every: 0.01) { FileManager.default.fileExists(atPath: socket) }
        return (listener, socket)
    }

    @Test func notifyDeliversToTheListenerWhichAnswers() throws {
        let started = Self.startListener()
        let (listener, socket) = started
        defer { Self.stopListener(started) }
        let profile = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW", listenerPath: socket, listenerMetadata: "test-metadata",
            syscalls: [
                .init(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY")
            ])
        let id = Harness.id("notify")
        let result = sandbox("mkdir /tmp/x; echo rc=$?", profile).run(id)
        #expect(result.stderr.contains("Operation not supported"), "\(result.stderr)")  // the listener's answer
        #expect(result.stdout.contains("rc=1"))
        let text = listener.finish().stdout
        #expect(text.contains("notified syscall=83"), "\(text)")  // mkdir on x86_64
        #expect(text.contains("\"seccompFd\""))
        #expect(text.contains("\"metadata\":\"test-metadata\""))
        #expect(text.contains("\"id\":\"\(id)\""))
    }

    @Test func theSameProfileIsCompiledOnce() throws {
        let profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["acct"], action: "SCMP_ACT_ERRNO")])
        let first = sandbox("true", profile)
        #expect(first.run().status == 0)
        #expect(first.skiff(["run", "-b", first.bundle, Harness.id("again")]).status == 0)
        let cache = try FileManager.default.contentsOfDirectory(atPath: first.root + "/.seccomp")
        #expect(cache.count == 1, "\(cache)")
        #expect(cache.first?.hasSuffix(".bpf") == true)
    }

    @Test func badSeccompSectionsNameTheFieldAndLeaveNothing() {
        func expectRejected(_ seccomp: Spec.Seccomp, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
            Sandbox.expectCreateFails(configuring: { $0.spec.linux?.seccomp = seccomp }, message, sourceLocation: sourceLocation)
        }
        expectRejected(.init(defaultAction: "SCMP_ACT_EXPLODE"), #"linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_EXPLODE""#)
        expectRejected(
            .init(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["read"], action: "SCMP_ACT_MAYBE")]),
            #"linux.seccomp.syscalls[0].action: unknown seccomp action "SCMP_ACT_MAYBE""#)
        expectRejected(
            .init(defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_PDP11"]),
            #"linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_PDP11""#)
        expectRejected(
            .init(defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_FAST"]),
            #"linux.seccomp.flags[0]: unknown seccomp flag "SECCOMP_FILTER_FLAG_FAST""#)
        expectRejected(
            .init(
                defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["read"], action: "SCMP_ACT_ERRNO", args: [.init(index: 0, value: 1, op: "SCMP_CMP_ALMOST")])]),
            #"linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_ALMOST""#)
        expectRejected(
            .init(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["read"], action: "SCMP_ACT_ERRNO", args: [.init(index: 6, value: 1, op: "SCMP_CMP_EQ")])]),
            "linux.seccomp.syscalls[0].args[0].index: must be 0 to 5")
        expectRejected(
            .init(defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/nonexistent/listener.sock", syscalls: [.init(names: ["mkdir"], action: "SCMP_ACT_NOTIFY")]),
            "linux.seccomp.listenerPath: /nonexistent/listener.sock: No such file or directory")
        expectRejected(
            .init(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["mkdir"], action: "SCMP_ACT_NOTIFY")]),
            "linux.seccomp.listenerPath: required when an action is SCMP_ACT_NOTIFY")
    }
}
