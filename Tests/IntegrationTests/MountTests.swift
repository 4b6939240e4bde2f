// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@Suite("mounts, masked and read-only paths")
struct MountTests {
    @Test func bindMountShowsHostFilesAndReadOnlyBindRefusesWrites() throws {
        let sandbox = Sandbox(args: ["sh", "-c", "cat /srv/hello; echo x > /srv/new && echo wrote; echo y > /opt/new || echo refused"])
        let host = Harness.temporaryDirectory("skiff-bind")
        defer { try? FileManager.default.removeItem(atPath: host) }
        try "from the host".write(toFile: host + "/hello", atomically: true, encoding: .utf8)
        sandbox.spec.mounts?.append(.init(destination: "/srv", type: "bind", source: host, options: ["rbind", "rw"]))
        sandbox.spec.mounts?.append(.init(destination: "/opt", type: "bind", source: host, options: ["rbind", "ro"]))
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("from the host"))
        #expect(result.stdout.contains("wrote"))
        #expect(result.stdout.contains("refused"))
        #expect(result.stderr.contains("Read-only file system"))
        #expect(FileManager.default.fileExists(atPath: host + "/new"))
    }

    @Test func tmpfsGetsItsSize() {
        let sandbox = Sandbox(args: ["sh", "-c", "df -k /mnt | tail -1"])
        sandbox.spec.mounts?.append(.init(destination: "/mnt", type: "tmpfs", source: "tmpfs", options: ["size=2048k"]))
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        // df: Filesystem 1K-blocks Used Available Use% Mounted on
        let fields = result.output.split(separator: " ", omittingEmptySubsequences: true)
        #expect(fields.count > 1 && fields[1] == "2048", "\(result.output)")
    }

    @Test func readonlyRootRefusesWrites() {
        let sandbox = Sandbox(args: ["touch", "/written-by-test"])
        sandbox.spec.root?.readonly = true
        let result = sandbox.run()
        #expect(result.status != 0)
        #expect(result.stderr.contains("Read-only file system"))
        #expect(!FileManager.default.fileExists(atPath: Harness.rootfs + "/written-by-test"))
    }

    @Test func maskedPathsAreUnreadable() {
        let sandbox = Sandbox(args: ["sh", "-c", "wc -c < /etc/passwd; ls /proc/acpi | wc -l; cat /proc/kcore | wc -c"])
        sandbox.spec.linux?.maskedPaths = ["/etc/passwd", "/proc/acpi", "/proc/kcore"]
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == ["0", "0", "0"])
    }

    /// Every masked directory is hidden by one empty filesystem (Kubernetes masks a directory
    /// per CPU: a tmpfs each was a superblock each), read-only as a filesystem, with no room
    /// for a file even if a bind of it were made writable.
    @Test func maskedDirectoriesShareOneEmptyReadOnlyFilesystem() throws {
        let host = Harness.temporaryDirectory("skiff-masked-dirs")
        defer { try? FileManager.default.removeItem(atPath: host) }
        let directories = (1...40).map { "d\($0)" }
        for directory in directories {
            try FileManager.default.createDirectory(atPath: host + "/" + directory, withIntermediateDirectories: true)
            try "secret".write(toFile: host + "/" + directory + "/file", atomically: true, encoding: .utf8)
        }
        let sandbox = Sandbox(args: [
            "sh", "-c",
            "stat -c %d " + directories.map { "/srv/\($0)" }.joined(separator: " ")
                + " | sort -u | wc -l; ls -A /srv/d1 /srv/d40 | grep -c file; touch /srv/d7/x && echo wrote; grep -c ' /srv/d[0-9]* ro,' /proc/self/mountinfo",
        ])
        sandbox.spec.mounts?.append(.init(destination: "/srv", type: "bind", source: host, options: ["rbind", "rw"]))
        sandbox.spec.linux?.maskedPaths = directories.map { "/srv/\($0)" }
        let result = sandbox.run()
        let lines = result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        // One device for all 40; no file shows through; nothing can be written; all 40 read-only.
        #expect(lines == ["1", "0", "40"], "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("Read-only file system"), "\(result.stderr)")
    }

    @Test func readonlyPathsAreReadOnly() {
        let sandbox = Sandbox(args: ["sh", "-c", "echo 1 > /proc/sys/kernel/domainname && echo wrote; touch /tmp/x && echo touched"])
        sandbox.spec.root?.readonly = false
        sandbox.spec.mounts?.append(.init(destination: "/tmp", type: "tmpfs", source: "tmpfs"))
        sandbox.spec.linux?.readonlyPaths = ["/proc/sys", "/tmp"]
        let result = sandbox.run()
        #expect(!result.stdout.contains("wrote"))
        #expect(!result.stdout.contains("touched"))
        #expect(result.stderr.contains("Read-only file system"))
    }

    /// A rootfs whose symlinks point at `/` and `..`: mount targets through them must land
    /// inside the rootfs (CVE-2021-30465 family).
    @Test func symlinkedMountTargetsStayInsideTheRootfs() throws {
        let rootfs = Harness.temporaryDirectory("skiff-evil-rootfs")
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        for dir in ["bin", "proc", "dev", "sys", "tmp", "inside"] {
            try FileManager.default.createDirectory(atPath: rootfs + "/" + dir, withIntermediateDirectories: true)
        }
        try Harness.installExecutables([Harness.rootfs + "/bin/busybox"], into: rootfs + "/bin")
        for applet in ["sh", "cat", "grep", "ls"] {
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/" + applet, withDestinationPath: "busybox")
        }
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/to-root", withDestinationPath: "/")
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/to-up", withDestinationPath: "../../../../..")
        let sandbox = Sandbox(args: ["sh", "-c", "grep -c skiff-marker /proc/self/mountinfo"])
        sandbox.spec.root = .init(path: rootfs, readonly: false)
        sandbox.spec.process?.env = ["PATH=/bin"]
        sandbox.spec.mounts?.append(.init(destination: "/to-root/inside", type: "tmpfs", source: "skiff-marker-1"))
        sandbox.spec.mounts?.append(.init(destination: "/to-up/tmp", type: "tmpfs", source: "skiff-marker-2"))
        let watched: Set<String> = ["/", "/inside", "/tmp"]
        let hostBefore = try Harness.hostMounts(at: watched)
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output == "2")
        #expect(!(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).contains("skiff-marker"))
        #expect(try Harness.hostMounts(at: watched) == hostBefore)
    }

    @Test func noPivotStillGivesTheContainerItsRoot() {
        let sandbox = Sandbox(args: ["sh", "-c", "ls / | grep -c linuxrc"])
        sandbox.writeConfig()
        let result = sandbox.skiff(["run", "--no-pivot", "-b", sandbox.bundle, Harness.id("nopivot")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output == "1")
    }

    @Test func configuredDevicesAreCreated() {
        let sandbox = Sandbox(args: ["sh", "-c", "ls -ln /dev/fuse /dev/loop-test | tr -s ' ' | cut -d' ' -f1,3,4,5,6"])
        sandbox.spec.linux?.devices = [
            .init(type: "c", path: "/dev/fuse", major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0),
            .init(type: "b", path: "/dev/loop-test", major: 7, minor: 200, fileMode: 0o640, uid: 1000, gid: 1001),
        ]
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n") == ["crw------- 0 0 10, 229", "brw-r----- 1000 1001 7, 200"])
    }

    @Test func rootfsPropagationIsApplied() {
        let sandbox = Sandbox(args: ["awk", "$5 == \"/\"", "/proc/self/mountinfo"])
        sandbox.spec.linux?.rootfsPropagation = "rshared"
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.contains("shared:"), "\(result.output)")
    }

    @Test func defaultDevicesAndLinksExist() {
        let sandbox = Sandbox(args: [
            "sh", "-c", "ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty | cut -c1; for l in fd stdin ptmx; do readlink /dev/$l; done",
        ])
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.prefix(6).allSatisfy { $0 == "c" })
        #expect(Array(lines.suffix(3)) == ["/proc/self/fd", "/proc/self/fd/0", "pts/ptmx"])
    }
}
