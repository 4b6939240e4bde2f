// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSystem
import Testing

@testable import SkiffNetwork

/// Link deletion handed to a detached helper, against the real kernel in a network namespace
/// of the test's own: the link is gone when `wait` returns, the helper closes what it holds,
/// and the kernel's refusal comes back as the caller's error.
@Suite("link removal")
struct LinkRemovalTests {
    /// A network namespace (`ip netns`), removed with everything in it at the end.
    final class Namespace {
        let name = "skiff-lr-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd: Int32

        init() throws {
            #expect(Self.ip(["netns", "add", name]) == 0)
            fd = open("/run/netns/" + name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SystemError("opening /run/netns/\(name)", errno: errno) }
        }

        deinit {
            close(fd)
            _ = Self.ip(["netns", "delete", name])
        }

        func ip(_ arguments: [String]) -> Int32 { Self.ip(["-n", name] + arguments) }

        func hasLink(_ name: String) -> Bool { ip(["link", "show", name]) == 0 }

        static func ip(_ arguments: [String]) -> Int32 {
            let quiet = Subprocess.Stream.file("/dev/null", flags: O_WRONLY)
            guard let pid = try? Subprocess.spawn("/usr/sbin/ip", arguments, streams: [1: quiet, 2: quiet]) else { return -1 }
            return Subprocess.exitCode(Subprocess.wait(pid))
        }
    }

    @Test func aVethIsGoneWhenWaitReturnsAndTheHelperClosesWhatItHolds() throws {
        let node = try Namespace()
        #expect(node.ip(["link", "add", "skvtest0", "type", "veth", "peer", "name", "skvtest1"]) == 0)
        #expect(node.ip(["link", "add", "skvtest2", "type", "veth", "peer", "name", "skvtest3"]) == 0)
        var ends: [Int32] = [-1, -1]
        #expect(skiff_pipe_cloexec(&ends) == 0)
        let removal = try LinkRemoval(
            links: RouteNetlink(namespace: node.fd), names: ["skvtest0", "skvtest2", "skvnone"], namespace: node.fd, holding: [ends[1]])
        close(ends[1])
        try removal.wait()
        for name in ["skvtest0", "skvtest1", "skvtest2", "skvtest3"] { #expect(!node.hasLink(name), "\(name) is still there") }
        // The held descriptor's last copy is the helpers': its end of file says they exited.
        var entry = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&entry, 1, 10_000) == 1, "a helper still holds the descriptor after 10 s")
        var byte: UInt8 = 0
        #expect(read(ends[0], &byte, 1) == 0)
        close(ends[0])
    }

    /// The kernel refuses to delete loopback: the helper's report is the caller's error,
    /// naming the link.
    @Test func theKernelsRefusalIsTheCallersError() throws {
        let node = try Namespace()
        let removal = try LinkRemoval(links: RouteNetlink(namespace: node.fd), names: ["lo"], namespace: node.fd)
        do throws(NetworkError) {
            try removal.wait()
            Issue.record("the deletion of lo did not fail")
        } catch {
            #expect(error.description.contains("removing lo"), "\(error)")
        }
        #expect(node.hasLink("lo"))
    }
}
