// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

/// Regression tests for the escapes earlier runtimes fell to: each attacks from inside a
/// container (or through its image) and must fail.
@Suite("escapes runtimes have fallen to")
struct EscapeTests {
    /// A private copy of the default rootfs, for tests that plant things in the image.
    static func copyOfRootfs() throws -> String {
        let copy = Harness.temporaryDirectory("skiff-image") + "/rootfs"
        Harness.run("/bin/cp", ["-a", Harness.rootfs, copy])
        return copy
    }

    static func digest(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// CVE-2019-5736: a process in the container reaches the runtime's executable through
    /// /proc/PID/exe of a runtime process that entered the container (here the waiting init of
    /// a created container, from a second container in its pid namespace).
    @Test func theRuntimeBinaryCannotBeReachedFromInside() throws {
        let skiffBinary = Harness.repository + "/.build/release/skiff"
        let initBinary = Harness.repository + "/.build/release/skiff-init"
        let before = (Self.digest(skiffBinary), Self.digest(initBinary))
        let first = Sandbox(args: ["sleep", "30"])
        first.writeConfig()
        let a = Harness.id("exe-a")
        #expect(first.skiff(["create", "-b", first.bundle, a]).status == 0)
        defer { first.skiff(["delete", "--force", a]) }
        let pid = try #require(first.state(a)?["pid"] as? Int)
        // From the host: what the waiting init runs is a sealed memfd, not a file of ours.
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        #expect(exe.hasPrefix("/memfd:skiff-init"), "\(exe)")
        let hostWrite = open("/proc/\(pid)/exe", O_WRONLY)
        #expect(hostWrite < 0)
        if hostWrite >= 0 { close(hostWrite) }

        let second = Sandbox(args: ["sh", "-c", "readlink /proc/1/exe; echo pwned >> /proc/1/exe; echo rc=$?; cat /proc/1/exe > /dev/null; echo read=$?"])
        second.spec.process?.capabilities = .init(
            bounding: ["CAP_DAC_OVERRIDE", "CAP_KILL"], effective: ["CAP_DAC_OVERRIDE", "CAP_KILL"],
            permitted: ["CAP_DAC_OVERRIDE", "CAP_KILL"])
        second.spec.linux?.namespaces = [.init(.mount), .init(.pid, path: "/proc/\(pid)/ns/pid")]
        second.spec.hostname = nil
        let result = second.run(Harness.id("exe-b"))
        #expect(result.stdout.contains("rc=1"), "\(result.stdout) \(result.stderr)")
        #expect(!result.stdout.contains("read=0"), "the init's executable was readable: \(result.stdout)")
        #expect((Self.digest(skiffBinary), Self.digest(initBinary)) == before)
    }

    /// CVE-2019-5736 against `exec`: the exec'd skiff-init is held at its execve (a seccomp
    /// notify listener that does not answer the exec's own execve until told), inside the
    /// container's pid namespace, while a process in the container goes for its /proc/PID/exe.
    @Test func theRuntimeBinaryCannotBeReachedThroughAnExec() throws {
        let skiffBinary = Harness.repository + "/.build/release/skiff"
        let initBinary = Harness.repository + "/.build/release/skiff-init"
        let before = (Self.digest(skiffBinary), Self.digest(initBinary))
        let directory = Harness.temporaryDirectory("skiff-listener")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/listener.sock", release = directory + "/release"
        let listener = Harness.start([socket, "continue", release], executable: Harness.repository + "/.build/seccomp-listener")
        let output = listener.out
        defer {
            _ = FileManager.default.createFile(atPath: release, contents: nil)  // best effort: the test may have released it
            kill(listener.pid, SIGKILL)
            listener.finish()
        }
        Harness.waitFor(seconds: 10, every: 0.01) { FileManager.default.fileExists(atPath: socket) }

        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.spec.process?.capabilities = .init(
            bounding: ["CAP_DAC_OVERRIDE", "CAP_KILL"], effective: ["CAP_DAC_OVERRIDE", "CAP_KILL"],
            permitted: ["CAP_DAC_OVERRIDE", "CAP_KILL"])
        sandbox.spec.linux?.seccomp = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW", listenerPath: socket,
            syscalls: [.init(names: ["execve"], action: "SCMP_ACT_NOTIFY")])
        sandbox.writeConfig()
        let id = Harness.id("exec-exe")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        defer { sandbox.skiff(["delete", "--force", id]) }
        // The second process with the filter is this exec; its execve waits for the listener.
        #expect(sandbox.skiff(["exec", "-d", id, "/bin/true"]).status == 0)
        var held: String?
        Harness.waitFor(seconds: 10, every: 0.01) {
            held = (try? String(contentsOfFile: output, encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("held pid=") }.map(String.init)
            return held != nil
        }
        let hostPid = try #require(held.flatMap { Int($0.dropFirst("held pid=".count)) })
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(hostPid)/exe")
        #expect(exe.hasPrefix("/memfd:skiff-init"), "the held exec runs \(exe)")

        // From inside: every process that is not the attacker's, its exe read and opened for writing.
        let attack =
            "for p in /proc/[0-9]*; do n=${p#/proc/}; [ $n = $$ ] && continue; echo \"pid $n $(readlink $p/exe 2>&1)\"; (echo pwned >> $p/exe) 2>/dev/null && echo \"pid $n WRITTEN\"; cat $p/exe > /dev/null 2>&1 && echo \"pid $n READ\"; done"
        let result = sandbox.skiff(["exec", "--cap", "CAP_DAC_OVERRIDE", id, "sh", "-c", attack])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count >= 2, "the attacker saw \(result.stdout)")  // pid 1 and the held exec, at least
        // pid 1 runs the container's own busybox, which it may read; nothing of the runtime is
        // readable, and nothing at all is writable.
        #expect(!result.stdout.contains("WRITTEN"), "\(result.stdout)")
        #expect(lines.filter { $0.hasSuffix(" READ") }.allSatisfy { $0 == "pid 1 READ" }, "\(result.stdout)")
        #expect(!result.stdout.contains(Harness.repository), "\(result.stdout)")
        #expect(FileManager.default.createFile(atPath: release, contents: nil))
        #expect((Self.digest(skiffBinary), Self.digest(initBinary)) == before)
    }

    /// CVE-2024-21626: no descriptor of the runtime in the container, and a cwd can only
    /// name a place inside it.
    @Test func noRuntimeDescriptorsAndNoCwdOutside() throws {
        let fds = Sandbox(args: ["sh", "-c", "ls /proc/self/fd; ls -l /proc/self/fd"]).run()
        #expect(fds.status == 0, "\(fds.stderr)")
        // stdin, stdout, stderr and ls's own directory: nothing of the runtime.
        #expect(fds.stdout.split(separator: "\n").prefix(4) == ["0", "1", "2", "3"], "\(fds.stdout)")
        #expect(!fds.stdout.contains("/run/skiff") && !fds.stdout.contains("memfd") && !fds.stdout.contains("socket"))

        let rootfs = try Self.copyOfRootfs()
        defer { try? FileManager.default.removeItem(atPath: (rootfs as NSString).deletingLastPathComponent) }
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/escape", withDestinationPath: "../../../../../../..")
        let cwd = Sandbox(args: ["pwd"])
        cwd.spec.root = .init(path: rootfs)
        cwd.spec.process?.cwd = "/escape"
        let result = cwd.run()
        #expect(result.output == "/", "\(result.stdout) \(result.stderr)")
        let magic = Sandbox(args: ["pwd"])
        magic.spec.process?.cwd = "/proc/self/fd/5"
        let refused = magic.run()
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("working directory"), "\(refused.stderr)")
    }

    /// CVE-2021-30465 family: masked paths and mount targets that are symlinks to host paths.
    @Test func symlinkedMaskedPathsMaskInsideTheContainer() throws {
        let rootfs = try Self.copyOfRootfs()
        defer { try? FileManager.default.removeItem(atPath: (rootfs as NSString).deletingLastPathComponent) }
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/evil-etc", withDestinationPath: "/etc")
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/evil-proc", withDestinationPath: "/proc/self/..")
        let sandbox = Sandbox(args: ["sh", "-c", "ls /etc | wc -l; ls /evil-etc | wc -l"])
        sandbox.spec.root = .init(path: rootfs)
        sandbox.spec.linux?.maskedPaths = ["/evil-etc"]
        let watched: Set<String> = ["/etc", "/proc"]
        let hostMounts = try Harness.hostMounts(at: watched, below: [rootfs])
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == ["0", "0"])
        #expect(try Harness.hostMounts(at: watched, below: [rootfs]) == hostMounts)
        #expect(FileManager.default.fileExists(atPath: "/etc/hostname"))
    }

    /// CVE-2025-31133: the image's /dev/null replaced by a symlink (or a file) before masking.
    /// Masking still masks, with a real null device, and the symlink's target is untouched.
    @Test func aFakeDevNullCannotRedirectMasking() throws {
        let rootfs = try Self.copyOfRootfs()
        defer { try? FileManager.default.removeItem(atPath: (rootfs as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: rootfs + "/dev", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/dev/null", withDestinationPath: "/etc/passwd")
        try "secret\n".write(toFile: rootfs + "/etc/target", atomically: true, encoding: .utf8)
        let sandbox = Sandbox(args: ["sh", "-c", "wc -c < /etc/target; wc -c < /etc/group; stat -c %t:%T /etc/target"])
        sandbox.spec.root = .init(path: rootfs)
        // No /dev tmpfs: the image's own /dev (with the planted symlink) is what the container sees.
        sandbox.spec.mounts = sandbox.spec.mounts?.filter { !$0.destination.hasPrefix("/dev") }
        sandbox.spec.linux?.maskedPaths = ["/etc/target", "/etc/group"]
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == ["0", "0", "1:3"])
        #expect(try String(contentsOfFile: rootfs + "/etc/passwd", encoding: .utf8).hasPrefix("root:"))
    }

    /// CVE-2025-52881: a /proc/sys file redirected by a mount before the sysctl is written.
    @Test func sysctlWritesCannotBeRedirected() throws {
        let decoyDirectory = Harness.temporaryDirectory("skiff-decoy")
        defer { try? FileManager.default.removeItem(atPath: decoyDirectory) }
        let decoy = decoyDirectory + "/domainname"
        try "untouched\n".write(toFile: decoy, atomically: true, encoding: .utf8)
        let sandbox = Sandbox()
        sandbox.spec.mounts?.append(.init(destination: "/proc/sys/kernel/domainname", type: "bind", source: decoy, options: ["bind"]))
        sandbox.spec.linux?.readonlyPaths = []
        sandbox.spec.linux?.sysctl = ["kernel.domainname": "pwned"]
        let id = Harness.id("sysctl-redirect")
        let result = sandbox.run(id)
        #expect(result.status != 0)
        #expect(result.stderr.contains("is not on procfs"), "\(result.stderr)")
        #expect(try String(contentsOfFile: decoy, encoding: .utf8) == "untouched\n")
        sandbox.expectNothingLeft(id)
    }
}
