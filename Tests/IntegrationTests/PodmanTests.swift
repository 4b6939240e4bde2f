// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSystem
import Testing

/// skiff under the real podman (Debian's), as `--runtime`: cgroupfs, file events, no network,
/// ulimits this sandbox can grant (it lacks CAP_SYS_RESOURCE), vfs storage in a temporary
/// directory, and an image imported from the project's rootfs (no registry is reachable).
/// podman with its storage, run directories and containers.conf under `directory` (a test's
/// own), skiff its runtime, and the image skiff-busybox imported from the project's rootfs.
struct PodmanStore {
    let directory: String
    /// What runs podman (nsenter into a node's network namespace, say); nothing: here.
    var launcher = ""

    var command: String {
        "\(launcher)env CONTAINERS_CONF=\(directory)/containers.conf podman --root \(directory)/storage --runroot \(directory)/run --tmpdir \(directory)/tmp --storage-driver vfs"
    }

    /// containers.conf (skiff, cgroupfs, file events, ulimits this sandbox can grant, then
    /// `extra`), and the image.
    func prepare(extra: String = "") throws {
        let conf = """
            [containers]
            default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
            [engine]
            runtime = "skiff"
            runtime_supports_json = ["skiff"]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            [engine.runtimes]
            skiff = ["\(Harness.skiff)"]

            """
        try (conf + extra).write(toFile: directory + "/containers.conf", atomically: true, encoding: .utf8)
        let imported = try PodmanTests.Shell().run("tar -C \(Harness.rootfs) -c . | \(command) import - skiff-busybox", in: directory)
        #expect(imported.status == 0, "\(imported.output)")
    }

    /// Every container and image, podman's parent cgroup, then the directory.
    func remove() {
        _ = try? PodmanTests.Shell().run("\(command) rm -af -t 0; \(command) rmi -af", in: directory)
        // podman's parent cgroup, made for its containers: remove it once they are all gone
        // (podman's exit commands run after `rm` returns: try for a moment).
        _ = try? PodmanTests.Shell().run(
            "for i in 1 2 3 4 5 6 7 8 9 10; do for d in /sys/fs/cgroup/*/libpod_parent; do rmdir $d/conmon $d 2>/dev/null; done; ls -d /sys/fs/cgroup/*/libpod_parent >/dev/null 2>&1 || break; sleep 0.3; done",
            in: directory)
        // Last: Shell keeps its files in the directory.
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite("under podman", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/podman")))
final class PodmanTests {
    let directory = Harness.temporaryDirectory("skiff-podman")

    init() throws {
        try PodmanStore(directory: directory).prepare()
    }

    deinit { PodmanStore(directory: directory).remove() }

    var podman: String { PodmanStore(directory: directory).command }

    struct Output {
        var status: Int32
        var output: String
    }

    func shell(_ command: String, stdin: String? = nil) throws -> Output {
        let result = try Shell().run(command, in: directory, stdin: stdin)
        return Output(status: result.status, output: result.output)
    }

    /// posix_spawn and waitpid, output to a file: conmon and containerd's shims, which outlive
    /// the commands that start them, keep every descriptor they inherited, so neither a pipe
    /// nor Foundation's Process (which waits on a socket its child inherits) would see the
    /// command end. Every command is bounded: a hang fails the test instead of the suite.
    struct Shell {
        func run(_ command: String, in directory: String, stdin: String? = nil) throws -> (status: Int32, output: String) {
            let outputFile = directory + "/output-\(UUID().uuidString)"
            let inputFile = directory + "/input-\(UUID().uuidString)"
            try (stdin ?? "").write(toFile: inputFile, atomically: true, encoding: .utf8)
            defer {
                try? FileManager.default.removeItem(atPath: outputFile)
                try? FileManager.default.removeItem(atPath: inputFile)
            }
            // Run in `directory`: conmon writes files (an `oom` marker) into its working directory.
            let script = "cd \(directory) && exec > \(outputFile) 2>&1 < \(inputFile); timeout 120 sh -c '" + command.replacingOccurrences(of: "'", with: "'\\''") + "'"
            guard let pid = try? Subprocess.spawn("/bin/sh", ["-c", script]) else { return (127, "spawn failed") }
            let status = Subprocess.wait(pid)
            let text = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
            return (Subprocess.exitCode(status), text)
        }
    }

    @Test func runWithRmStdinAndExitCodes() throws {
        let run = try shell("\(podman) run --rm --network none skiff-busybox sh -c 'echo hello from podman; exit 3'")
        #expect(run.status == 3, "\(run.output)")
        #expect(run.output.contains("hello from podman"))
        let stdin = try shell("\(podman) run --rm -i --network none skiff-busybox cat", stdin: "through podman\n")
        #expect(stdin.output.contains("through podman"), "\(stdin.output)")
        let tty = try shell("echo 'tty; exit 2' | script -qec \"\(podman) run --rm -it --network none skiff-busybox sh\" /dev/null")
        #expect(tty.status == 2, "\(tty.output)")
        #expect(tty.output.contains("/dev/pts/0"))
    }

    @Test func detachedExecTopStatsPauseStopAndRemove() throws {
        let name = "skiff-pm-\(UUID().uuidString.prefix(6).lowercased())"
        let started = try shell("\(podman) run -d --name \(name) --network none --memory 64m --cpus 0.5 --pids-limit 20 skiff-busybox sleep 300")
        #expect(started.status == 0, "\(started.output)")
        let exec = try shell(
            "\(podman) exec \(name) sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max'"
        )
        #expect(exec.output.contains("67108864"), "\(exec.output)")
        #expect(exec.output.contains("20"))
        let interactive = try shell("\(podman) exec -i \(name) cat", stdin: "exec stdin\n")
        #expect(interactive.output.contains("exec stdin"))
        let execTTY = try shell("echo 'tty; exit 4' | script -qec \"\(podman) exec -it \(name) sh\" /dev/null")
        #expect(execTTY.status == 4, "\(execTTY.output)")
        #expect(try shell("\(podman) top \(name)").output.contains("sleep 300"))
        #expect(try shell("\(podman) stats --no-stream \(name)").output.contains(name))
        #expect(try shell("\(podman) pause \(name)").status == 0)
        #expect(try shell("\(podman) inspect -f '{{.State.Status}}' \(name)").output.contains("paused"))
        #expect(try shell("\(podman) unpause \(name)").status == 0)
        // update through the runtime's `update --resources`.
        #expect(try shell("\(podman) update --memory 128m \(name)").status == 0)
        let updated = try shell("\(podman) exec \(name) sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'")
        #expect(updated.output.contains("134217728"), "\(updated.output)")
        #expect(try shell("\(podman) kill -s USR1 \(name)").status == 0)
        #expect(try shell("\(podman) stop -t 1 \(name)").status == 0)
        #expect(try shell("\(podman) inspect -f '{{.State.Status}}' \(name)").output.contains("exited"))
        #expect(try shell("\(podman) rm -f \(name)").status == 0)
        #expect(!(try shell("\(podman) ps -a").output.contains(name)))
    }

    @Test func limitsAreEnforced() throws {
        let oom = try shell("\(podman) run --rm --network none --memory 32m skiff-busybox sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1; echo dd=$?'")
        #expect(oom.output.contains("dd=137"), "\(oom.output)")
        let pids = try shell("\(podman) run --rm --network none --pids-limit 5 skiff-busybox sh -c 'i=0; while [ $i -lt 10 ]; do sleep 5 & i=$((i+1)); echo $i; done'")
        #expect(pids.output.contains("can't fork"), "\(pids.output)")
        // --cpus 0.5: a busy loop given 2 s of wall time gets about 1 s of CPU.
        let cpu = try shell("\(podman) run --rm --network none --cpus 0.5 skiff-busybox time -p timeout 2 sh -c 'while :; do :; done'")
        let used = cpu.output.split(separator: "\n").compactMap { line -> Double? in
            let fields = line.split(separator: " ")
            return fields.count == 2 && (fields[0] == "user" || fields[0] == "sys") ? Double(fields[1]) : nil
        }.reduce(0, +)
        #expect(used > 0.7 && used < 1.3, "\(cpu.output)")
    }
}
