// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec
import Testing

@testable import SkiffCheck

/// `skiff check`'s verdicts: what a probe's report means against the config and the policy,
/// decided without a task (the reports are written here).
@Suite("check verdicts")
struct CheckVerdictTests {
    static func plan(_ spec: Spec = Spec.defaultSpec(rootfs: "/r"), policy: CheckPolicy = CheckPolicy(), _ groups: Set<CheckGroup> = []) -> CheckPlan {
        CheckPlan(spec: spec, policy: policy, groups: groups, probePath: "/.skiff-probe", runtimePath: "/usr/local/bin/skiff")
    }

    static func verdict(_ plan: CheckPlan, _ report: String, _ property: String) -> CheckResult? {
        plan.evaluate(ProbeReport(report)).first { $0.property == property }
    }

    @Test func aReportIsReadALineAKey() {
        let report = ProbeReport("uid 0\nmount /\nmount /proc\nempty\ndone 1")
        #expect(report["uid"] == "0")
        #expect(report.all("mount") == ["/", "/proc"])
        #expect(report["empty"] == "")
        #expect(report.isComplete)
        #expect(!ProbeReport("uid 0").isComplete)
    }

    @Test func onlyTheGroupsAskedForAreJudged() {
        let results = Self.plan(Spec.defaultSpec(rootfs: "/r"), [.identity]).evaluate(ProbeReport("uid 0"))
        #expect(Set(results.map(\.group)) == [.identity])
    }

    @Test func identityMatchesTheConfigsUser() {
        var spec = Spec.defaultSpec(rootfs: "/r")
        spec.process?.user = .init(uid: 1000, gid: 100, additionalGids: [100, 20, 10])
        let plan = Self.plan(spec, [.identity])
        #expect(Self.verdict(plan, "uid 1000", "uid")?.status == .pass)
        #expect(Self.verdict(plan, "uid 0", "uid")?.status == .fail)
        // The primary group is not counted among the supplementary ones, in either order.
        #expect(Self.verdict(plan, "groups 100,20,10", "supplementary groups")?.status == .pass)
        #expect(Self.verdict(plan, "groups 10", "supplementary groups")?.status == .fail)
        #expect(Self.verdict(plan, "umask 0022", "umask")?.status == .pass)
    }

    @Test func somethingTheProbeDidNotReportFails() throws {
        let result = try #require(Self.verdict(Self.plan(Spec.defaultSpec(rootfs: "/r"), [.identity]), "", "uid"))
        #expect(result.status == .fail && result.observed == "-" && result.why == "the probe did not report it")
    }

    @Test func capabilityMasksAreByName() {
        #expect(CheckPlan.mask(["CAP_CHOWN", "CAP_KILL"]) == 1 | 1 << 5)
        #expect(CheckPlan.names(1 | 1 << 5) == "CAP_CHOWN,CAP_KILL")
        #expect(CheckPlan.names(0) == "none")
    }

    @Test func aCapabilityThePolicyForbidsFailsInAnySet() {
        var policy = CheckPolicy()
        policy.forbiddenCapabilities = ["CAP_SYS_ADMIN"]
        let plan = Self.plan(Spec.defaultSpec(rootfs: "/r"), policy: policy, [.privilege])
        #expect(Self.verdict(plan, "cap.bounding 0000000000200000", "no CAP_SYS_ADMIN (policy)")?.status == .fail)
        let all = ["inheritable", "permitted", "effective", "bounding", "ambient"].map { "cap.\($0) 0000000000000020" }.joined(separator: "\n")
        #expect(Self.verdict(plan, all, "no CAP_SYS_ADMIN (policy)")?.status == .pass)
    }

    /// A capability in no set the probe reported is not shown to be absent: a policy line
    /// fails when the sets were not all observed.
    @Test func aForbiddenCapabilityFailsWhenTheSetsWereNotObserved() throws {
        var policy = CheckPolicy()
        policy.forbiddenCapabilities = ["CAP_SYS_ADMIN"]
        let plan = Self.plan(Spec.defaultSpec(rootfs: "/r"), policy: policy, [.privilege])
        let nothing = try #require(Self.verdict(plan, "", "no CAP_SYS_ADMIN (policy)"))
        #expect(nothing.status == .fail && nothing.observed == "-", "\(nothing)")
        #expect(Self.verdict(plan, "cap.bounding 0000000000000020", "no CAP_SYS_ADMIN (policy)")?.status == .fail)
        let all = ["inheritable", "permitted", "effective", "bounding", "ambient"].map { "cap.\($0) 0000000000000020" }.joined(separator: "\n")
        #expect(Self.verdict(plan, all, "no CAP_SYS_ADMIN (policy)")?.status == .pass)
    }

    @Test func aRefusedMountIsAPassAndAnAllowedOneAFailure() {
        let plan = Self.plan(Spec.defaultSpec(rootfs: "/r"), [.privilege])
        #expect(Self.verdict(plan, "op.mount errno:1", "mount(2)")?.status == .pass)
        #expect(Self.verdict(plan, "op.mount ok", "mount(2)")?.status == .fail)
        #expect(Self.verdict(plan, "", "mount(2)")?.status == .fail)
    }

    @Test func aGrantedCapabilitySkipsItsOperation() {
        var spec = Spec.defaultSpec(rootfs: "/r")
        spec.process?.capabilities?.effective = ["CAP_NET_RAW"]
        let result = Self.verdict(Self.plan(spec, [.privilege]), "op.rawsocket ok", "a raw socket")
        #expect(result?.status == .skip && result?.why == "CAP_NET_RAW is granted")
    }

    @Test func securityLabelsMatchAsTheKernelShowsThem() {
        var process = Spec.defaultSpec(rootfs: "/r").process
        #expect(CheckPlan.securityLabel(process, observed: "unconfined").status == .pass)
        process?.apparmorProfile = "skiff-default"
        #expect(CheckPlan.securityLabel(process, observed: "skiff-default (enforce)").status == .pass)
        #expect(CheckPlan.securityLabel(process, observed: "unconfined").status == .fail)
    }

    @Test func theProfilesAnswerIsExpectedOfEachProbedSyscall() {
        var spec = Spec.defaultSpec(rootfs: "/r")
        spec.linux?.seccomp = .init(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [.init(names: ["ptrace"], action: "SCMP_ACT_ERRNO"), .init(names: ["kcmp"], action: "SCMP_ACT_KILL")])
        let plan = Self.plan(spec, [.seccomp])
        #expect(Self.verdict(plan, "syscall.ptrace errno:\(EPERM)", "ptrace(2) denied")?.status == .pass)
        #expect(Self.verdict(plan, "syscall.ptrace errno:\(ESRCH)", "ptrace(2) denied")?.status == .fail)
        #expect(Self.verdict(plan, "syscall.kcmp signal:\(SIGSYS)", "kcmp(2) denied")?.status == .pass)
        // What the profile allows is not judged, unless the policy asks.
        #expect(Self.verdict(plan, "syscall.mount errno:\(ENOENT)", "mount(2) denied") == nil)
    }

    @Test func thePolicysDeniedSyscallMustNotBeTheKernelsOwnAnswer() {
        var spec = Spec.defaultSpec(rootfs: "/r")
        spec.linux?.seccomp = nil
        var policy = CheckPolicy()
        policy.deniedSyscalls = ["mount", "reboot"]
        let plan = Self.plan(spec, policy: policy, [.seccomp])
        #expect(Self.verdict(plan, "syscall.mount errno:\(ENOENT)", "mount(2) denied (policy)")?.status == .fail)
        #expect(Self.verdict(plan, "syscall.mount errno:\(EPERM)", "mount(2) denied (policy)")?.status == .pass)
        #expect(Self.verdict(plan, "", "reboot(2) denied (policy)")?.status == .skip)
    }

    @Test func maskedAndReadOnlyPathsAreJudgedByWhatTheTaskCouldDo() {
        var spec = Spec.defaultSpec(rootfs: "/r")
        spec.linux?.maskedPaths = ["/proc/kcore"]
        spec.linux?.readonlyPaths = ["/proc/sys"]
        let plan = Self.plan(spec, [.filesystem])
        #expect(Self.verdict(plan, "masked./proc/kcore empty", "masked /proc/kcore")?.status == .pass)
        #expect(Self.verdict(plan, "masked./proc/kcore readable", "masked /proc/kcore")?.status == .fail)
        #expect(Self.verdict(plan, "readonly./proc/sys readonly", "read-only /proc/sys")?.status == .pass)
        #expect(Self.verdict(plan, "readonly./proc/sys writable", "read-only /proc/sys")?.status == .fail)
    }

    @Test func aMountTheConfigDidNotAskForFails() {
        let plan = Self.plan(Spec.defaultSpec(rootfs: "/r"), [.filesystem])
        #expect(Self.verdict(plan, "mount /\nmount /proc\nmount /sys/fs/cgroup/memory", "mounts beyond the configured ones")?.status == .pass)
        let result = Self.verdict(plan, "mount /\nmount /host", "mounts beyond the configured ones")
        #expect(result?.status == .fail && result?.observed == "/host")
    }

    @Test func theRuntimeBinaryReachableFromTheTaskFails() {
        let plan = Self.plan(Spec.defaultSpec(rootfs: "/r"), [.filesystem])
        #expect(Self.verdict(plan, "exe /bin/sleep", "a host runtime binary as some process's exe")?.status == .pass)
        #expect(Self.verdict(plan, "exe /usr/local/bin/skiff (deleted)", "a host runtime binary as some process's exe")?.status == .fail)
    }

    @Test func theMemoryLimitIsReadPageAligned() {
        var spec = Spec.defaultSpec(rootfs: "/r")
        spec.linux?.resources = .init(memory: .init(limit: 64 << 20 | 100))
        let plan = Self.plan(spec, [.resources])
        #expect(Self.verdict(plan, "cgroup.v1.memory.limit_in_bytes \(64 << 20)", "memory limit in the cgroup")?.status == .pass)
        #expect(Self.verdict(plan, "memory.overrun signal:9", "allocating past \(64 << 20 | 100) bytes")?.status == .pass)
        #expect(Self.verdict(plan, "memory.overrun survived", "allocating past \(64 << 20 | 100) bytes")?.status == .fail)
    }

    @Test func thePolicysMemoryCeilingIsTheLowerOfTheTwo() {
        var spec = Spec.defaultSpec(rootfs: "/r")
        spec.linux?.resources = .init(memory: .init(limit: 128 << 20))
        var policy = CheckPolicy()
        policy.maxMemory = 64 << 20
        let plan = Self.plan(spec, policy: policy, [.resources])
        #expect(plan.memoryToOverrun == 64 << 20)
        #expect(Self.verdict(plan, "", "memory limit at most \(64 << 20) (policy)")?.status == .fail)
        #expect(plan.probeArguments.contains("--memory"))
    }

    @Test func forkingMustStopBelowThePidsLimitWithEAGAIN() {
        var spec = Spec.defaultSpec(rootfs: "/r")
        spec.linux?.resources = .init(pids: .init(limit: 10))
        let plan = Self.plan(spec, [.resources])
        #expect(Self.verdict(plan, "pids.forked 8\npids.failure errno:\(EAGAIN)", "forking stops at the pids limit")?.status == .pass)
        #expect(Self.verdict(plan, "pids.forked 10\npids.failure errno:\(EAGAIN)", "forking stops at the pids limit")?.status == .fail)
    }

    @Test func aTaskWithItsOwnNetworkHasOnlyLoopbackAndItsInterface() {
        var spec = Spec.defaultSpec(rootfs: "/r")
        spec.annotations = ["io.skiff.network.subnet": "10.77.0.0/16"]
        let plan = Self.plan(spec, [.network])
        #expect(Self.verdict(plan, "interface lo 127.0.0.1\ninterface eth0 10.77.0.2", "interfaces")?.status == .pass)
        #expect(Self.verdict(plan, "interface eth0 10.78.0.2", "interfaces")?.status == .fail)
        #expect(Self.verdict(plan, "interface eth0 10.77.0.2\ninterface eth1 10.77.0.3", "interfaces")?.status == .fail)
    }

    @Test func theProbesArgumentsFollowTheConfigAndPolicy() {
        var spec = Spec.defaultSpec(rootfs: "/r")
        spec.linux?.maskedPaths = ["/proc/kcore"]
        spec.linux?.resources = .init(pids: .init(limit: 5))
        var policy = CheckPolicy()
        policy.reachable = ["tcp:10.0.0.1:80"]
        let arguments = Self.plan(spec, policy: policy, [.filesystem, .resources, .network]).probeArguments
        #expect(arguments.starts(with: ["--only", "filesystem", "--only", "network", "--only", "resources"]))
        #expect(arguments.contains("--masked") && arguments.contains("/proc/kcore"))
        #expect(arguments.suffix(2) == ["--peer", "tcp:10.0.0.1:80"])
        #expect(!arguments.contains("--syscall"))
    }
}
