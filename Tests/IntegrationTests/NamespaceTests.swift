// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@Suite("namespaces are new, or joined by path")
struct NamespaceTests {
    @Test func utsNamespaceHasItsOwnHostname() {
        let sandbox = Sandbox(args: ["hostname"])
        sandbox.spec.hostname = "inside-skiff"
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output == "inside-skiff")
        #expect(ProcessInfo.processInfo.hostName != "inside-skiff")
    }

    @Test func processIsPidOneAndSeesOnlyItsOwnProcesses() {
        let sandbox = Sandbox(args: ["sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"])
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.first == "1")
        // sh, ls and grep at most: nothing of the host.
        #expect((Int(lines.last ?? "") ?? 99) <= 3)
    }

    @Test func networkNamespaceHasOnlyLoopback() {
        let sandbox = Sandbox(args: ["ls", "/sys/class/net"])
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output == "lo")
    }

    @Test func ipcNamespaceIsNew() throws {
        let sandbox = Sandbox(args: ["readlink", "/proc/self/ns/ipc"])
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/ipc")
        #expect(!result.output.isEmpty && result.output != host)
    }

    @Test func mountsAreInvisibleOnTheHost() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.spec.mounts?.append(.init(destination: "/mnt", type: "tmpfs", source: "skiff-scratch", options: ["size=1m"]))
        sandbox.writeConfig()
        let id = Harness.id("mnt")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        let hostMounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!hostMounts.contains("skiff-scratch"))
        #expect(!hostMounts.contains(Harness.rootfs))
        let pid = sandbox.state(id)?["pid"] as? Int ?? 0
        let inside = try String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8)
        #expect(inside.contains(" /mnt ") && inside.contains("skiff-scratch"))
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
        sandbox.expectNothingLeft(id)
    }

    @Test func secondContainerJoinsTheFirstsNamespacesByPath() throws {
        let first = Sandbox(args: ["sleep", "30"])
        first.spec.hostname = "shared-uts"
        first.writeConfig()
        let a = Harness.id("ns-a")
        #expect(first.skiff(["run", "-d", "-b", first.bundle, a]).status == 0)
        defer { first.skiff(["delete", "--force", a]) }
        let pid = try #require(first.state(a)?["pid"] as? Int)

        let second = Sandbox(args: ["sh", "-c", "readlink /proc/self/ns/net; hostname; ps -o comm | grep -c sleep"])
        second.spec.hostname = nil
        second.spec.linux?.namespaces = [
            .init(.mount), .init(.ipc),
            .init(.network, path: "/proc/\(pid)/ns/net"),
            .init(.uts, path: "/proc/\(pid)/ns/uts"),
            .init(.pid, path: "/proc/\(pid)/ns/pid"),
        ]
        let result = second.run(Harness.id("ns-b"))
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.output.split(separator: "\n").map(String.init)
        let firstNet = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net")
        #expect(lines.first == firstNet)
        #expect(lines.dropFirst().first == "shared-uts")
        // In the first container's pid namespace, its sleep is visible.
        #expect(lines.last == "1")
    }

    /// A container joining a pid namespace is forked into it, and its pid comes from the
    /// fork's parent: with that parent held back after each fork, the container's process
    /// (not the parent that left) is still the one recorded, started and waited for.
    @Test func aContainerForkedIntoAJoinedPidNamespaceIsFollowedHoweverLateItsPidIsReported() throws {
        let first = Sandbox(args: ["sleep", "30"])
        first.writeConfig()
        let a = Harness.id("ns-a")
        #expect(first.skiff(["run", "-d", "-b", first.bundle, a]).status == 0)
        defer { first.skiff(["delete", "--force", a]) }
        let pid = try #require(first.state(a)?["pid"] as? Int)

        let second = Sandbox(args: ["sh", "-c", "ps -o comm | grep -c sleep; sleep 0.3; exit 3"])
        second.spec.hostname = nil
        second.spec.linux?.namespaces = [.init(.mount), .init(.pid, path: "/proc/\(pid)/ns/pid")]
        second.writeConfig()
        let id = Harness.id("ns-late")
        let result = second.skiffWithSlowForks(["run", "--bundle", second.bundle, id])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.output == "1")
        second.expectNothingLeft(id)
    }

    @Test func joiningANamespaceThatDoesNotExistIsAClearError() {
        let sandbox = Sandbox()
        sandbox.spec.hostname = nil
        sandbox.spec.linux?.namespaces = [.init(.mount), .init(.network, path: "/proc/999999999/ns/net")]
        let id = Harness.id("nsbad")
        let result = sandbox.run(id)
        #expect(result.status != 0)
        #expect(result.stderr.contains("linux.namespaces[1].path"))
        sandbox.expectNothingLeft(id)
    }
}

@Suite("time namespaces")
struct TimeNamespaceTests {
    @Test func bootTimeOffsetIsApplied() throws {
        let sandbox = Sandbox(args: ["sh", "-c", "cut -d. -f1 /proc/uptime; readlink /proc/self/ns/time"])
        sandbox.spec.linux?.namespaces?.append(.init(.time))
        var offsets: [String: Spec.TimeOffset] = [:]
        offsets["boottime"] = Spec.TimeOffset(secs: 365 * 86_400, nanosecs: 0)
        sandbox.spec.linux?.timeOffsets = offsets
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.output.split(separator: "\n")
        let uptime = Int(lines.first ?? "") ?? 0
        #expect(uptime >= 365 * 86_400, "uptime \(uptime)")
        let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/time")
        #expect(lines.last.map(String.init) != host)
    }

    /// Docker 29.5 puts a time namespace without offsets in every container's config: it runs,
    /// in a time namespace of its own whose clocks are the host's.
    @Test func aTimeNamespaceWithoutOffsetsAsDockerSendsIt() throws {
        let sandbox = Sandbox(args: ["sh", "-c", "cut -d. -f1 /proc/uptime; readlink /proc/self/ns/time; cat /proc/self/timens_offsets"])
        sandbox.spec.linux?.namespaces?.append(.init(.time))
        sandbox.spec.linux?.timeOffsets = nil
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.output.split(separator: "\n").map(String.init)
        let host = try String(contentsOfFile: "/proc/uptime", encoding: .utf8).split(separator: ".").first.flatMap { Int($0) } ?? 0
        let uptime = Int(lines.first ?? "") ?? -1
        #expect(abs(uptime - host) <= 5, "uptime \(uptime) against the host's \(host)")
        let hostNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/time")
        #expect(lines.count == 4 && lines[1] != hostNamespace, "\(lines)")
        #expect(Array(lines.dropFirst(2)) == ["monotonic           0         0", "boottime            0         0"], "\(lines)")
    }

    @Test func badOffsetsAreNamed() {
        let sandbox = Sandbox()
        sandbox.spec.linux?.timeOffsets = ["realtime": Spec.TimeOffset(secs: 1, nanosecs: 0)]
        sandbox.spec.linux?.namespaces?.append(.init(.time))
        sandbox.writeConfig()
        let result = sandbox.skiff(["create", "-b", sandbox.bundle, Harness.id("timens")])
        #expect(result.stderr.contains("linux.timeOffsets.realtime: unknown clock"))
    }

    /// The kernel's bound, in the error as given (never through a floating-point value), one
    /// line, nothing left: checked before anything is made.
    @Test(arguments: [
        (Int64.max, UInt32(0), "linux.timeOffsets.monotonic.secs: 9223372036854775807 is out of range (-4611686018 to 4611686018)"),
        (4_611_686_019, 0, "linux.timeOffsets.monotonic.secs: 4611686019 is out of range"),
        (1, 1_000_000_000, "linux.timeOffsets.monotonic.nanosecs: 1000000000 is not below 1000000000"),
        // Within the bound, but the clock would go below 0: the kernel's refusal, as one line.
        (-4_000_000_000, 0, #"setting linux.timeOffsets: writing "monotonic -4000000000 0\nboottime 0 0\n" to /proc/self/timens_offsets"#),
    ])
    func offsetsOutOfRangeAreNamed(secs: Int64, nanosecs: UInt32, message: String) {
        Sandbox.expectCreateFails(
            configuring: {
                $0.spec.linux?.namespaces?.append(.init(.time))
                $0.spec.linux?.timeOffsets = ["monotonic": Spec.TimeOffset(secs: secs, nanosecs: nanosecs)]
            }, message, oneLine: true)
    }
}
