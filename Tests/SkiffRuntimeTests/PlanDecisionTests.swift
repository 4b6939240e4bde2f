// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffCgroups
import SkiffSpec
import Testing

@testable import SkiffRuntime

/// What the planner decides from a config and the host's facts, one decision at a time: no
/// root, no host read (every fact is written here).
@Suite("plan decisions")
struct PlanDecisionTests {
    static func spec() -> Spec {
        var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
        spec.linux?.seccomp = nil
        return spec
    }

    /// The default config without a mount namespace, and nothing in it that would mount.
    static func specWithoutMountNamespace() -> Spec {
        var spec = Self.spec()
        spec.mounts = []
        spec.root?.readonly = false
        spec.linux?.maskedPaths = nil
        spec.linux?.readonlyPaths = nil
        spec.linux?.namespaces?.removeAll { $0.kind == .mount }
        return spec
    }

    static func plan(
        _ spec: Spec, host: HostFacts = PlanFixtures.host, _ change: (inout PlanBuilder.Options) -> Void = { _ in }
    ) throws(RuntimeError) -> PlanBuilder.Output {
        var builder = PlanBuilder(spec: spec, bundle: "/bundle", rootfs: "/bundle/rootfs", host: host, options: PlanFixtures.options(change))
        return try builder.build()
    }

    static func codes(_ output: PlanBuilder.Output) -> [skiff_op] { output.plan.operations.map(\.code) }

    /// The error's one line (RuntimeError's description), or "" when the plan was made.
    static func refusal(_ spec: Spec, host: HostFacts = PlanFixtures.host, _ change: (inout PlanBuilder.Options) -> Void = { _ in }) -> String {
        do { _ = try plan(spec, host: host, change) } catch { return error.description }
        return ""
    }

    @Test func aJoinedNamespaceThatIsNotThereIsNamedByItsField() {
        var spec = Self.spec()
        spec.linux?.namespaces?.append(.init(type: "network", path: "/run/netns/gone"))
        spec.linux?.namespaces?.removeAll { $0.kind == .network && $0.path == nil }
        let said = Self.refusal(spec)
        #expect(said.hasPrefix("linux.namespaces[") && said.contains("].path: /run/netns/gone: No such file or directory"), "\(said)")
    }

    @Test func aJoinedNamespaceIsARequestNotADescriptor() throws {
        var spec = Self.spec()
        spec.linux?.namespaces = [.init(.mount), .init(type: "network", path: "/run/netns/peer")]
        var host = PlanFixtures.host
        host.paths["/run/netns/peer"] = .file(.init(device: 4, inode: 9))
        let output = try Self.plan(spec, host: host)
        #expect(output.plan.descriptors.first == .namespace(path: "/run/netns/peer", field: "linux.namespaces[1].path"))
        #expect(output.cloneFlags & UInt64(SKIFF_CLONE_NEWNET) == 0)
    }

    @Test func theUserNamespaceIsJoinedFirst() throws {
        var spec = Self.spec()
        spec.linux?.namespaces = [.init(.mount), .init(type: "ipc", path: "/p/ipc"), .init(type: "user", path: "/p/user")]
        var host = PlanFixtures.host
        host.paths["/p/ipc"] = .file(.init(device: 4, inode: 1))
        host.paths["/p/user"] = .file(.init(device: 4, inode: 2))
        let joins = try Self.plan(spec, host: host).plan.operations.filter { $0.code == SKIFF_OP_SETNS }.map(\.strings)
        #expect(joins == [["/p/user"], ["/p/ipc"]])
    }

    @Test func aBindSourceThatIsNotThereIsNamedByItsField() {
        var spec = Self.spec()
        spec.mounts?.append(.init(destination: "/data", type: "bind", source: "/srv/missing", options: ["rbind"]))
        let said = Self.refusal(spec)
        #expect(said.contains("].source: /srv/missing: No such file or directory"), "\(said)")
    }

    @Test func aFileBindMakesAFileAndADirectoryBindADirectory() throws {
        var spec = Self.spec()
        spec.mounts = [
            .init(destination: "/etc/hosts", type: "bind", source: "hosts", options: ["bind"]),
            .init(destination: "/data", type: "bind", source: "/srv/data", options: ["rbind"]),
        ]
        let mounts = try Self.plan(spec, host: PlanFixtures.hostWithBindSources).plan.operations.filter { $0.code == SKIFF_OP_MOUNT }
        #expect(mounts[0].strings[0] == "/bundle/hosts" && mounts[0].args[3] == Int64(SKIFF_TARGET_FILE.rawValue))
        #expect(mounts[1].strings[0] == "/srv/data" && mounts[1].args[3] == Int64(SKIFF_TARGET_DIR.rawValue))
    }

    @Test func sysfsInAUserNamespaceWithoutItsOwnNetworkIsTheNodesBound() throws {
        var spec = Spec.rootlessSpec(uid: 1000, gid: 1000, rootfs: "/bundle/rootfs")
        spec.mounts = [.init(destination: "/sys", type: "sysfs", source: "sysfs", options: ["ro"])]
        let mount = try #require(try Self.plan(spec).plan.operations.first { $0.code == SKIFF_OP_MOUNT })
        #expect(mount.strings[0] == "/sys" && mount.args[4] == 1)
    }

    @Test func aUserNamespaceBindsDevicesAndRefusesOnesTheNodeLacks() throws {
        var spec = Spec.rootlessSpec(uid: 1000, gid: 1000, rootfs: "/bundle/rootfs")
        spec.linux?.devices = [.init(type: "c", path: "/dev/fuse", major: 10, minor: 229)]
        #expect(Self.refusal(spec).contains("linux.devices[0].path: /dev/fuse does not exist on the host"))
        var host = PlanFixtures.host
        host.paths["/dev/fuse"] = .file(PlanFixtures.identity)
        let output = try Self.plan(spec, host: host)
        #expect(!Self.codes(output).contains(SKIFF_OP_MKNOD))
        #expect(output.plan.operations.contains { $0.code == SKIFF_OP_MOUNT && $0.strings[0] == "/dev/fuse" })
    }

    @Test func withoutAUserNamespaceDevicesAreMadeWithTheirNumbers() throws {
        var spec = Self.spec()
        spec.linux?.devices = [.init(type: "c", path: "/dev/fuse", major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0)]
        let node = try #require(try Self.plan(spec).plan.operations.last { $0.code == SKIFF_OP_MKNOD })
        #expect(node.strings == ["/dev/fuse"])
        #expect(node.args[0] == Int64(S_IFCHR) | 0o600)
        #expect(node.args[1] == PlanBuilder.makedev(major: 10, minor: 229))
    }

    @Test func makedevIsGlibcs() {
        #expect(PlanBuilder.makedev(major: 1, minor: 3) == 259)
        #expect(PlanBuilder.makedev(major: 259, minor: 1) == Int64(259 << 8 | 1))
        #expect(PlanBuilder.makedev(major: 0x1000, minor: 0x100) > 0)
    }

    @Test(arguments: ["mounts", "root.readonly", "linux.maskedPaths", "process.terminal"])
    func withoutAMountNamespaceWhatWouldMountIsRefused(_ field: String) {
        var spec = Self.specWithoutMountNamespace()
        #expect(Self.refusal(spec) == "")
        switch field {
        case "mounts": spec.mounts = [.init(destination: "/tmp", type: "tmpfs", source: "tmpfs")]
        case "root.readonly": spec.root?.readonly = true
        case "linux.maskedPaths": spec.linux?.maskedPaths = ["/proc/kcore"]
        default: spec.process?.terminal = true
        }
        #expect(Self.refusal(spec).hasPrefix("\(field): needs a mount namespace"), "\(Self.refusal(spec))")
    }

    @Test func noPivotWithoutAMountNamespaceIsRefusedAsAFlag() {
        let spec = Self.specWithoutMountNamespace()
        #expect(Self.refusal(spec) { $0.noPivot = true }.hasPrefix("--no-pivot: needs a mount namespace"))
    }

    @Test func aCapabilitySkiffDoesNotHoldIsNotGranted() {
        var spec = Self.spec()
        spec.process?.capabilities = .init(bounding: ["CAP_SYS_ADMIN"], effective: ["CAP_SYS_ADMIN"], permitted: ["CAP_SYS_ADMIN"])
        #expect(
            Self.refusal(spec, host: PlanFixtures.unprivilegedHost) == "process.capabilities.bounding: CAP_SYS_ADMIN is not held by skiff itself, so it cannot grant it")
        // In a user namespace of its own the task may hold what skiff does not.
        spec.linux?.namespaces?.append(.init(.user))
        #expect(Self.refusal(spec, host: PlanFixtures.unprivilegedHost) == "")
    }

    @Test func ambientCapabilitiesThatCannotBeRaisedAreSkippedByName() throws {
        var spec = Self.spec()
        spec.process?.capabilities = .init(bounding: ["CAP_KILL", "CAP_CHOWN"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"], ambient: ["CAP_KILL", "CAP_CHOWN"])
        let output = try Self.plan(spec)
        #expect(output.warnings.contains { $0.hasPrefix("process.capabilities.ambient: CAP_KILL, CAP_CHOWN not raised") }, "\(output.warnings)")
        let caps = try #require(output.plan.operations.first { $0.code == SKIFF_OP_CAPS })
        #expect(caps.args[3] == 0)
    }

    @Test func aProfileThatDeniesCapsetWithoutNoNewPrivilegesIsRefused() {
        var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
        spec.process?.noNewPrivileges = false
        spec.linux?.seccomp = .init(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["capset"], action: "SCMP_ACT_ERRNO")])
        #expect(Self.refusal(spec) { $0.seccompFlags = 0 }.hasPrefix("linux.seccomp: denies capset"))
        spec.process?.noNewPrivileges = true
        #expect(Self.refusal(spec) { $0.seccompFlags = 0 } == "")
    }

    @Test func theTimeNamespaceGetsItsOffsetsBeforeAnyUserNamespace() throws {
        var spec = Spec.rootlessSpec(uid: 1000, gid: 1000, rootfs: "/bundle/rootfs")
        spec.linux?.namespaces?.append(.init(.time))
        spec.linux?.timeOffsets = ["monotonic": .init(secs: 86400), "boottime": .init(secs: 1, nanosecs: 5)]
        let output = try Self.plan(spec)
        let codes = Self.codes(output)
        let time = try #require(output.plan.operations.first { $0.code == SKIFF_OP_TIME_NAMESPACE })
        #expect(time.strings == ["monotonic 86400 0\nboottime 1 5\n"])
        #expect(codes.firstIndex(of: SKIFF_OP_TIME_NAMESPACE)! < codes.firstIndex(of: SKIFF_OP_UNSHARE)!)
    }

    @Test func aNewUserNamespaceIsMadeFirstAndMappedByTheParent() throws {
        let output = try Self.plan(Spec.rootlessSpec(uid: 1000, gid: 1000, rootfs: "/bundle/rootfs"))
        let operations = output.plan.operations
        #expect(output.newUserNamespace)
        #expect(output.cloneFlags == 0)
        let first = try #require(operations.firstIndex { $0.code == SKIFF_OP_UNSHARE })
        #expect(operations[first].args == [Int64(SKIFF_CLONE_NEWUSER)])
        #expect(operations[first + 1].code == SKIFF_OP_SYNC && operations[first + 1].args == [Int64(PlanBuilder.syncUserMaps)])
        #expect(operations[first + 2].code == SKIFF_OP_USERNS_ROOT)
    }

    @Test func newNamespacesWithoutAUserNamespaceAreMadeAtClone() throws {
        let output = try Self.plan(Self.spec())
        #expect(!output.newUserNamespace)
        let expected = UInt64(SKIFF_CLONE_NEWPID | SKIFF_CLONE_NEWNET | SKIFF_CLONE_NEWIPC | SKIFF_CLONE_NEWUTS | SKIFF_CLONE_NEWNS)
        #expect(output.cloneFlags == expected)
        // The cgroup namespace only once the process is in its cgroup.
        #expect(output.plan.operations.contains { $0.code == SKIFF_OP_UNSHARE && $0.args == [Int64(SKIFF_CLONE_NEWCGROUP)] })
    }

    @Test func theNetworkStepsComeFirstAndAfterTheNamespaces() throws {
        let operations = try Self.plan(Self.spec()) { $0.network = true }.plan
        #expect(operations.operations.first?.code == SKIFF_OP_SYNC && operations.operations.first?.args == [Int64(PlanBuilder.syncNetworkRules)])
        #expect(operations.operations[1].code == SKIFF_OP_SEND_RULES)
        #expect(operations.descriptors.prefix(2) == [.rulesSocket, .rulesBatch])
        #expect(operations.operations.contains { $0.code == SKIFF_OP_SYNC && $0.args == [Int64(PlanBuilder.syncNetwork)] })
        #expect(!(try Self.plan(Self.spec()).plan.operations.contains { $0.code == SKIFF_OP_SEND_RULES }))
    }

    @Test func theExecFifoIsAskedForOnlyWhenTheProcessWaits() throws {
        #expect(try Self.plan(Self.spec()).plan.descriptors == [.execFifo])
        let run = try Self.plan(Self.spec()) { $0.waitForStart = false }
        #expect(run.plan.descriptors.isEmpty)
        #expect(run.plan.operations.last?.args == [1, -1])
    }

    @Test func aMountLabelGoesOnTheFilesystemsThatTakeOne() throws {
        var spec = Self.spec()
        spec.linux?.mountLabel = "system_u:object_r:container_file_t:s0"
        let mounts = try Self.plan(spec).plan.operations.filter { $0.code == SKIFF_OP_MOUNT }
        let shm = try #require(mounts.first { $0.strings[1] == "/dev/shm" })
        #expect(shm.strings[3].hasSuffix("context=\"system_u:object_r:container_file_t:s0\""))
        let proc = try #require(mounts.first { $0.strings[1] == "/proc" })
        #expect(!proc.strings[3].contains("context="))
    }

    @Test func sysctlsOfANamespaceTheTaskDoesNotOwnAreRefused() {
        var spec = Self.spec()
        spec.linux?.namespaces?.removeAll { $0.kind == .network }
        spec.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
        #expect(Self.refusal(spec).hasPrefix("linux.sysctl"), "\(Self.refusal(spec))")
    }

    /// A namespace joined by a path that is skiff's own is the node's: its sysctls are refused.
    @Test func aPathToSkiffsOwnNamespaceIsTheNodes() {
        var spec = Self.spec()
        spec.linux?.namespaces = [.init(.mount), .init(type: "network", path: "/proc/self/ns/net")]
        spec.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
        var host = PlanFixtures.host
        host.paths["/proc/self/ns/net"] = .file(PlanFixtures.identity)
        host.ownNamespaces[.network] = PlanFixtures.identity
        #expect(Self.refusal(spec, host: host).hasPrefix("linux.sysctl"))
        host.ownNamespaces[.network] = .init(device: 4, inode: 1)
        #expect(Self.refusal(spec, host: host) == "")
    }

    @Test func appArmorUsesItsOwnAttributeWhereTheKernelStacksModules() throws {
        var spec = Self.spec()
        spec.process?.apparmorProfile = "skiff-default"
        var host = PlanFixtures.host
        #expect(try Self.plan(spec, host: host).plan.operations.first { $0.code == SKIFF_OP_EXEC_LABEL }?.strings == ["exec", "exec skiff-default"])
        host.appArmorHasOwnAttributes = true
        #expect(
            try Self.plan(spec, host: host).plan.operations.first { $0.code == SKIFF_OP_EXEC_LABEL }?.strings == ["apparmor/exec", "exec skiff-default"])
    }

    @Test func preservedDescriptorsAreKept() throws {
        let close = try #require(try Self.plan(Self.spec()) { $0.preserveFds = 2 }.plan.operations.first { $0.code == SKIFF_OP_CLOSE_FDS })
        #expect(close.args == [5, 0])
    }

    @Test func theSessionKeyringIsNamedAfterTheContainerUnlessAskedNot() throws {
        #expect(try Self.plan(Self.spec()).plan.operations.contains { $0.code == SKIFF_OP_SESSION_KEYRING && $0.strings == ["golden"] })
        #expect(!(try Self.plan(Self.spec()) { $0.noNewKeyring = true }.plan.operations.contains { $0.code == SKIFF_OP_SESSION_KEYRING }))
    }

    @Test func theCommandIsFoundOnTheConfigsPath() throws {
        var spec = Self.spec()
        spec.process?.env = ["PATH=/opt/bin", "PATH=/final/bin"]
        let exec = try #require(try Self.plan(spec).plan.operations.last)
        #expect(exec.strings.first == "/final/bin")
    }
}
