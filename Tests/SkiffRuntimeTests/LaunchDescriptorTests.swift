// SPDX-License-Identifier: Apache-2.0
import CShims
import Foundation
import Glibc
import SkiffSpec
import SkiffSystem
import Testing

@testable import SkiffRuntime

/// The descriptors a plan asks for: opened by their one owner after the claim, closed when it
/// goes; the host's facts, gathered once; and the runtime's errors as they are said.
@Suite("launch descriptors and host facts")
final class LaunchDescriptorTests {
    let directory = NSTemporaryDirectory() + "skiff-descriptors-\(UUID().uuidString.prefix(8))"

    init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    static func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) >= 0 }

    /// The file `fd` is open on (device and inode), or nil if it is not open.
    static func identity(of fd: Int32) -> [UInt64]? {
        var st = stat()
        return fstat(fd, &st) == 0 ? [UInt64(st.st_dev), UInt64(st.st_ino)] : nil
    }

    @Test func whatTheOwnerOpensClosesWithIt() throws {
        var opened: [(fd: Int32, file: [UInt64]?)] = []
        do {
            let owner = try LaunchDescriptors(
                [.namespace(path: "/proc/self/ns/net", field: "linux.namespaces[0].path"), .execFifo],
                supplied: .init(execFifoPath: directory + "/exec.fifo"))
            opened = owner.table.map { ($0, Self.identity(of: $0)) }
            #expect(opened.count == 2 && opened.allSatisfy { $0.file != nil })
            #expect(opened.allSatisfy { fcntl($0.fd, F_GETFD) & FD_CLOEXEC != 0 })
            var st = stat()
            #expect(stat(directory + "/exec.fifo", &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)
        }
        // Other tests of this process open descriptors meanwhile and may be given the same
        // numbers: a number still open must name another file.
        for (fd, file) in opened { #expect(Self.identity(of: fd) == nil || Self.identity(of: fd) != file, "descriptor \(fd) is still open") }
    }

    @Test func suppliedDescriptorsStayTheirOwners() throws {
        let seccomp = try FileDescriptor(opening: "/dev/null", O_RDONLY, step: "opening /dev/null")
        let pidfd = try FileDescriptor(opening: "/dev/null", O_RDONLY, step: "opening /dev/null")
        do {
            let owner = try LaunchDescriptors(
                [.containerPidfd, .seccompFilter], supplied: .init(seccompFilter: seccomp.rawValue, containerPidfd: pidfd.rawValue))
            #expect(owner.table == [pidfd.rawValue, seccomp.rawValue])
        }
        #expect(Self.isOpen(seccomp.rawValue) && Self.isOpen(pidfd.rawValue))
    }

    @Test func aNamespaceThatCannotBeOpenedIsItsFieldsError() {
        #expect(throws: RuntimeError.self) {
            _ = try LaunchDescriptors([.namespace(path: "/run/netns/none", field: "linux.namespaces[2].path")], supplied: .init())
        }
        do {
            _ = try LaunchDescriptors([.namespace(path: "/run/netns/none", field: "linux.namespaces[2].path")], supplied: .init())
        } catch {
            #expect(error.description == "linux.namespaces[2].path: /run/netns/none: No such file or directory")
        }
    }

    @Test func aRequestNobodySuppliedIsRefusedNotSentEmpty() {
        do {
            _ = try LaunchDescriptors([.console], supplied: .init())
            Issue.record("a console nobody supplied was accepted")
        } catch {
            #expect(error.description.contains("console socket"))
        }
    }

    @Test func whatWasOpenedBeforeAFailureIsClosedToo() throws {
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))
        for _ in 0..<50 {
            _ = try? LaunchDescriptors(
                [.namespace(path: "/proc/self/ns/net", field: "a"), .namespace(path: "/proc/self/ns/ipc", field: "b"), .namespace(path: "/nonexistent", field: "c")],
                supplied: .init())
        }
        let after = Set(try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))
        // Two would be left each round if the failure leaked them (a hundred in all); the
        // other tests of the process, running meanwhile, hold a few of their own.
        #expect(after.subtracting(before).count < 10, "descriptors left: \(after.subtracting(before))")
    }

    @Test func requestsSayWhatTheyAre() {
        #expect(DescriptorRequest.namespace(path: "/p", field: "f").description == "namespace /p")
        #expect(
            DescriptorRequest.idmappedUserNamespace(uidMap: "0 1 2\n", gidMap: "0 1 2\n3 4 5\n", field: "f").description
                == "user namespace uid_map \"0 1 2\" gid_map \"0 1 2; 3 4 5\"")
        #expect(DescriptorRequest.execFifo.description == "exec fifo")
    }

    @Test func hostFactsSayWhatStatSaid() throws {
        #expect(HostFacts.fact(of: "/").identity != nil)
        if case .directory = HostFacts.fact(of: "/tmp") {} else { Issue.record("/tmp is not a directory") }
        if case .file = HostFacts.fact(of: "/dev/null") {} else { Issue.record("/dev/null is not a file") }
        #expect(HostFacts.fact(of: "/nonexistent").error == ENOENT)
        #expect(HostFacts.bindSource("hosts", bundle: "/b") == "/b/hosts")
        #expect(HostFacts.bindSource("/etc/hosts", bundle: "/b") == "/etc/hosts")
    }

    @Test func hostFactsCoverWhatTheConfigNames() {
        var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
        spec.linux?.namespaces = [.init(.mount), .init(type: "network", path: "/proc/self/ns/net")]
        spec.mounts = [.init(destination: "/h", type: "bind", source: "hosts", options: ["ro"])]
        spec.linux?.devices = [.init(type: "c", path: "/dev/null", major: 1, minor: 3)]
        let facts = HostFacts.gather(for: spec, bundle: "/nonexistent-bundle")
        #expect(facts.paths["/proc/self/ns/net"]?.identity != nil)
        #expect(facts.ownNamespaces[.network] == facts.paths["/proc/self/ns/net"]?.identity)
        #expect(facts.paths["/nonexistent-bundle/hosts"]?.error == ENOENT)
        #expect(facts.paths["/dev/null"]?.identity != nil)
        #expect(facts.lastCapability >= 36)
    }

    @Test func theNamespaceKindsHaveTheirProcNames() {
        #expect(Spec.NamespaceKind.allCases.map(\.procName) == ["pid", "net", "mnt", "ipc", "uts", "user", "cgroup", "time"])
    }

    @Test func runtimeErrorsAreOneLineEach() {
        #expect(RuntimeError.container(SystemError("mounting /proc", errno: EPERM, detail: "on /x")).description == "mounting /proc: on /x: Operation not permitted")
        #expect(RuntimeError.container(SystemError("exec", errno: 0, detail: "no such program")).description == "exec: no such program")
        #expect(RuntimeError.initExited(waitStatus: 9).description == "skiff-init: exited before the container was ready (wait status 9)")
        #expect(RuntimeError.wrongState(id: "a", status: .stopped, action: "signal").description.contains("container not running"))
        #expect(RuntimeError.system("opening x", ENOENT).description == "opening x: No such file or directory")
        for error in [RuntimeError.notFound("a"), .alreadyExists("a"), .usage("u"), .hook("h")] {
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func aSystemStepSaysItsStep() {
        #expect(throws: RuntimeError.self) {
            try systemStep { () throws(SystemError) in throw SystemError("x", errno: EIO) }
        }
        #expect((try? systemStep { () throws(SystemError) in 7 }) == 7)
    }

    @Test func theOperationNamesComeFromTheHeader() {
        #expect(PlanOperation(SKIFF_OP_MOUNT).name == "MOUNT")
        #expect(PlanOperation(SKIFF_OP_SEND_RULES).name == "SEND_RULES")
        #expect(String(cString: skiff_op_name(UInt32(SKIFF_OP_EXEC.rawValue))) == "EXEC")
        #expect(skiff_op_name(4096) == nil)
    }

    @Test func tooManyDescriptorsAreRefusedUpFront() {
        var plan = LaunchPlan()
        for i in 0...Int(SKIFF_PLAN_MAX_FDS) { _ = plan.add(.namespace(path: "/p/\(i)", field: "f")) }
        #expect(throws: SpecError.self) { try plan.checkLimits() }
    }
}
