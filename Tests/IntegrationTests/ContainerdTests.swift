// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSystem
import Testing

/// skiff under the real containerd (Debian's 1.6) through its runc shim, driven with
/// `ctr --runc-binary`: a containerd of our own (config, root, state and socket in a temporary
/// directory, stopped by pid), and an image built from the rootfs as a docker archive.
@Suite("under containerd", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/containerd")))
final class ContainerdTests {
    let directory = Harness.temporaryDirectory("skiff-containerd")
    var daemon: pid_t = 0
    var ctr: String { "ctr -a \(directory)/containerd.sock" }
    let shell = PodmanTests.Shell()

    init() throws {
        let config = """
            version = 2
            root = "\(directory)/root"
            state = "\(directory)/state"
            # No CRI here (CRITests); no snapshotter that would try to load a kernel module (aufs).
            disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
            [grpc]
              address = "\(directory)/containerd.sock"
            """
        try config.write(toFile: directory + "/config.toml", atomically: true, encoding: .utf8)
        let archive = try shell.run(
            "\(Harness.repository)/Tests/IntegrationTests/helpers/docker-archive.sh \(directory)/image.tar \(Harness.rootfs) skiff/busybox:latest "
                + #"'{"Cmd":["sh"],"Env":["PATH=/bin:/sbin:/usr/bin:/usr/sbin"]}'"#, in: directory)
        #expect(archive.status == 0, "\(archive.output)")
        let log = directory + "/containerd.log"
        daemon = try Subprocess.spawn(
            "/usr/bin/containerd", ["--config", directory + "/config.toml"],
            streams: [
                1: .file(log, flags: O_WRONLY | O_CREAT, mode: 0o644), 2: .file(log, flags: O_WRONLY | O_CREAT | O_APPEND, mode: 0o644),
            ])
        Harness.waitFor(seconds: 5) { FileManager.default.fileExists(atPath: directory + "/containerd.sock") }
        let imported = try shell.run("\(ctr) image import \(directory)/image.tar", in: directory)
        #expect(imported.status == 0, "\(imported.output)")
    }

    deinit {
        _ = try? shell.run(
            "for t in $(\(ctr) task ls -q); do \(ctr) task kill -s KILL $t; sleep 0.2; \(ctr) task rm -f $t; done; for c in $(\(ctr) c ls -q); do \(ctr) c rm $c; done",
            in: directory)
        if daemon > 0 {
            kill(daemon, SIGTERM)
            var status: Int32 = 0
            waitpid(daemon, &status, 0)
        }
        // What the shim made for its runtime root, and containerd's parent cgroup, if empty now.
        _ = try? shell.run(
            "rm -rf /run/containerd/runc/default/.cgroup-layout /run/containerd/runc/default/.seccomp; rmdir /sys/fs/cgroup/*/default /run/containerd/runc/default /run/containerd/runc /run/containerd/fifo/* /run/containerd/fifo /run/containerd/s/* /run/containerd/s /run/containerd 2>/dev/null; true",
            in: directory)
        try? FileManager.default.removeItem(atPath: directory)
    }

    var image: String { "docker.io/skiff/busybox:latest" }

    @Test func runWithExitCodesAndATerminal() throws {
        let run = try shell.run("\(ctr) run --rm --runc-binary \(Harness.skiff) \(image) ctr-run sh -c 'echo hello from containerd; exit 3'", in: directory)
        #expect(run.status == 3, "\(run.output)")
        #expect(run.output.contains("hello from containerd"))
        let tty = try shell.run("echo 'tty; exit 2' | script -qec \"\(ctr) run --rm -t --runc-binary \(Harness.skiff) \(image) ctr-tty sh\" /dev/null", in: directory)
        #expect(tty.status == 2, "\(tty.output)")
        #expect(tty.output.contains("/dev/pts/0"))
    }

    @Test func detachedExecPsMetricsPauseResumeKillAll() throws {
        let started = try shell.run("\(ctr) run -d --runc-binary \(Harness.skiff) --memory-limit 67108864 \(image) ctr-d sleep 300", in: directory)
        #expect(started.status == 0, "\(started.output)")
        let exec = try shell.run("\(ctr) task exec --exec-id e1 ctr-d sh -c 'echo exec-ok; exit 4'", in: directory)
        #expect(exec.status == 4, "\(exec.output)")
        #expect(exec.output.contains("exec-ok"))
        #expect(try shell.run("\(ctr) task ps ctr-d", in: directory).output.split(separator: "\n").count >= 2)
        #expect(try shell.run("\(ctr) task metrics ctr-d", in: directory).output.contains("67108864"))
        #expect(try shell.run("\(ctr) task pause ctr-d", in: directory).status == 0)
        #expect(try shell.run("\(ctr) task ls", in: directory).output.contains("PAUSED"))
        #expect(try shell.run("\(ctr) task resume ctr-d", in: directory).status == 0)
        #expect(try shell.run("\(ctr) task ls", in: directory).output.contains("RUNNING"))
        // kill --all through the shim: pid 1 ignores SIGTERM (no handler), the exec'd sleep
        // does not, so only the runtime's --all reaches it.
        #expect(try shell.run("\(ctr) task exec -d --fifo-dir \(directory)/fifo --exec-id e2 ctr-d sleep 300", in: directory).status == 0)
        #expect(try shell.run("\(ctr) task ps ctr-d", in: directory).output.split(separator: "\n").count == 3)
        #expect(try shell.run("\(ctr) task kill -a -s TERM ctr-d", in: directory).status == 0)
        var left = ""
        Harness.waitFor(seconds: 10, every: 0.1) {
            left = (try? shell.run("\(ctr) task ps ctr-d", in: directory).output) ?? ""
            return left.split(separator: "\n").count == 2
        }
        #expect(left.split(separator: "\n").count == 2, "\(left)")
        // update through the shim, as containerd sends it: 64 MiB becomes 128 MiB.
        let shim = try #require(ShimClient(state: directory + "/state", id: "ctr-d"))
        #expect(try shim.update(id: "ctr-d", resourcesJSON: #"{"memory": {"limit": 134217728}, "pids": {"limit": 64}}"#) == nil)
        #expect(try shell.run("\(ctr) task metrics ctr-d", in: directory).output.contains("134217728"))
        // The container's own cgroup on the host (containerd's cgroupsPath is /default/ID).
        let limits = try shell.run(
            "cat $(find /sys/fs/cgroup/memory -type d -path '*/default/ctr-d' | head -1)/memory.limit_in_bytes $(find /sys/fs/cgroup/pids -type d -path '*/default/ctr-d' | head -1)/pids.max",
            in: directory)
        #expect(limits.output.split(separator: "\n") == ["134217728", "64"], "\(limits.output)")
        // A bad update is refused by skiff, and the shim passes the error on.
        let refused = try shim.update(id: "ctr-d", resourcesJSON: #"{"blockIO": {"weight": 5}}"#)
        #expect(refused?.contains("linux.resources.blockIO.weight: must be between 10 and 1000") == true, "\(refused ?? "accepted")")
        #expect(try shell.run("\(ctr) task kill -s KILL ctr-d", in: directory).status == 0)
        Harness.waitFor(seconds: 10, every: 0.1) { (try? shell.run("\(ctr) task ls", in: directory).output.contains("STOPPED")) ?? false }
        #expect(try shell.run("\(ctr) task rm ctr-d && \(ctr) c rm ctr-d", in: directory).status == 0)
        #expect(!(try shell.run("\(ctr) c ls -q", in: directory).output.contains("ctr-d")))
    }
}
