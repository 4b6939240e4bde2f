import Foundation
import SkiffSystem
import Testing

/// skiff under Debian's Docker (20.10) as `docker run --runtime skiff`: a dockerd of the test's
/// own — its config, data root, exec root, socket and managed containerd in a temporary
/// directory — started inside a network namespace the test made (no bridge, no iptables: the
/// machine's own network is never touched), cgroupfs on this hybrid host, vfs storage, and an
/// image imported from the project's rootfs (no registry is reachable).
@Suite("under Docker", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/usr/sbin/dockerd")))
final class DockerTests {
    let directory = Harness.temporaryDirectory("skiff-docker")
    let namespace = "skiff-docker-" + UUID().uuidString.prefix(8).lowercased()
    var daemon: pid_t = 0

    var docker: String { "/usr/bin/docker -H unix://\(directory)/docker.sock" }
    let flags = "--runtime skiff --network none"

    init() throws {
        #expect(Harness.run("/usr/bin/ip", ["netns", "add", namespace]).status == 0)
        Harness.run("/usr/bin/ip", ["-n", namespace, "link", "set", "lo", "up"])
        let config = """
            {"runtimes": {"skiff": {"path": "\(Harness.skiff)"}}, "bridge": "none", "iptables": false, "ip6tables": false,
             "ip-masq": false, "ip-forward": false, "storage-driver": "vfs", "exec-opts": ["native.cgroupdriver=cgroupfs"]}
            """
        try config.write(toFile: directory + "/daemon.json", atomically: true, encoding: .utf8)
        let log = directory + "/dockerd.log"
        daemon = try Subprocess.spawn(
            "/usr/bin/nsenter",
            [
                "--net=/run/netns/\(namespace)", "--", "/usr/sbin/dockerd", "--config-file", directory + "/daemon.json",
                "--data-root", directory + "/data", "--exec-root", directory + "/exec", "--pidfile", directory + "/docker.pid",
                "-H", "unix://\(directory)/docker.sock",
            ],
            streams: [
                0: .file("/dev/null", flags: O_RDONLY), 1: .file(log, flags: O_WRONLY | O_CREAT, mode: 0o644),
                2: .file(log, flags: O_WRONLY | O_CREAT | O_APPEND, mode: 0o644),
            ])
        try Harness.waitFor(seconds: 15, every: 0.1) { try shell("\(docker) version --format '{{.Server.Version}}'").status == 0 }
        let imported = try shell("tar -C \(Harness.rootfs) -c . | \(docker) import - skiff-busybox")
        #expect(imported.status == 0, "\(imported.output)")
    }

    deinit {
        _ = try? shell("\(docker) rm -f $(\(docker) ps -aq) 2>/dev/null; true")
        // The daemon by the pid it was started with (nsenter execs it), then what it mounted.
        kill(daemon, SIGTERM)
        var status: Int32 = 0
        if !Harness.waitFor(seconds: 10, every: 0.1, { waitpid(daemon, &status, WNOHANG) != 0 }) {
            kill(daemon, SIGKILL)
            waitpid(daemon, &status, 0)
        }
        _ = try? shell("grep -o ' \(directory)[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l")
        Harness.run("/usr/bin/ip", ["netns", "delete", namespace])
        try? FileManager.default.removeItem(atPath: directory)
    }

    func shell(_ command: String, stdin: String? = nil) throws -> (status: Int32, output: String) {
        try PodmanTests.Shell().run(command, in: directory, stdin: stdin)
    }

    func inspect(_ format: String, _ name: String) throws -> String {
        try shell("\(docker) inspect -f '\(format)' \(name)").output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func runRmExitCodesStdinAndTerminals() throws {
        let run = try shell("\(docker) run --rm \(flags) skiff-busybox sh -c 'echo hello from docker; exit 3'")
        #expect(run.status == 3 && run.output.contains("hello from docker"), "\(run.output)")
        #expect(try shell("\(docker) run --rm -i \(flags) skiff-busybox cat", stdin: "through docker\n").output.contains("through docker"))
        let tty = try shell("echo 'tty; exit 2' | script -qec \"\(docker) run --rm -it \(flags) skiff-busybox sh\" /dev/null")
        #expect(tty.output.contains("/dev/pts/0"), "\(tty.output)")
    }

    @Test func aDetachedContainerIsManagedAsDockerManagesIt() throws {
        #expect(try shell("\(docker) run -d --name web \(flags) --memory 64m --cpus 0.5 --pids-limit 20 skiff-busybox sleep 300").status == 0)
        #expect(try shell("\(docker) exec web sh -c 'echo in-exec'").output.contains("in-exec"))
        let execTTY = try shell("echo 'tty; exit 0' | script -qec \"\(docker) exec -it web sh\" /dev/null")
        #expect(execTTY.output.contains("/dev/pts/0"), "\(execTTY.output)")
        #expect(try shell("\(docker) top web").output.contains("sleep 300"))
        #expect(try shell("\(docker) stats --no-stream --format '{{.Name}} {{.MemUsage}}' web").output.contains("64MiB"))
        let id = try inspect("{{.Id}}", "web")
        let memory = try shell("cat $(find /sys/fs/cgroup/memory -type d -name \(id) | head -n 1)/memory.limit_in_bytes").output
        #expect(memory.trimmingCharacters(in: .whitespacesAndNewlines) == "67108864", "\(memory)")
        #expect(try shell("\(docker) pause web").status == 0)
        #expect(try inspect("{{.State.Status}}", "web") == "paused")
        #expect(try shell("\(docker) unpause web").status == 0)
        #expect(try shell("\(docker) update --memory 128m --memory-swap 256m web").status == 0)
        let updated = try shell("cat $(find /sys/fs/cgroup/memory -type d -name \(id) | head -n 1)/memory.limit_in_bytes").output
        #expect(updated.trimmingCharacters(in: .whitespacesAndNewlines) == "134217728", "\(updated)")
        #expect(try shell("\(docker) kill -s USR1 web").status == 0)
        #expect(try inspect("{{.State.Status}}", "web") == "running")
        #expect(try shell("\(docker) stop -t 1 web").status == 0)
        #expect(try inspect("{{.State.Status}}", "web") == "exited")
        #expect(try shell("\(docker) rm -f web").status == 0)
        #expect(try shell("find /sys/fs/cgroup -maxdepth 3 -type d -name \(id)").output.isEmpty)
    }

    @Test func limitsAndConfinementHold() throws {
        let oom = try shell("\(docker) run --name oom \(flags) --memory 32m skiff-busybox sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1'")
        #expect(oom.status == 137, "\(oom.output)")
        #expect(try inspect("{{.State.OOMKilled}}", "oom") == "true")
        _ = try shell("\(docker) rm -f oom")
        #expect(
            try shell("\(docker) run --rm \(flags) --pids-limit 10 skiff-busybox sh -c 'for i in $(seq 20); do sleep 5 & done 2>&1 | head -n 1'").output.contains("fork"))
        #expect(try shell("\(docker) run --rm \(flags) --read-only skiff-busybox sh -c 'touch /x'").output.contains("Read-only file system"))
        #expect(try shell("\(docker) run --rm \(flags) --cap-drop ALL skiff-busybox grep CapEff /proc/self/status").output.contains("0000000000000000"))
        #expect(try shell("\(docker) run --rm \(flags) --security-opt no-new-privileges skiff-busybox grep NoNewPrivs /proc/self/status").output.contains("1"))
        #expect(try shell("\(docker) run --rm \(flags) --user 1000:1000 skiff-busybox id").output.contains("uid=1000 gid=1000"))
        #expect(try shell("\(docker) run --rm \(flags) --tmpfs /scratch:size=1m skiff-busybox grep scratch /proc/mounts").output.contains("size=1024k"))
        try FileManager.default.createDirectory(atPath: directory + "/share", withIntermediateDirectories: true)
        try "shared\n".write(toFile: directory + "/share/f", atomically: true, encoding: .utf8)
        #expect(try shell("\(docker) run --rm \(flags) -v \(directory)/share:/share skiff-busybox cat /share/f").output.contains("shared"))
        #expect(try shell("\(docker) run --rm \(flags) --init skiff-busybox ps -o comm").output.contains("docker-init"))
    }

    @Test func logsHealthAndRestarts() throws {
        #expect(try shell("\(docker) run -d --name talk \(flags) skiff-busybox sh -c 'echo logged; sleep 30'").status == 0)
        var logs = ""
        try Harness.waitFor(seconds: 5, every: 0.1) {
            logs = try shell("\(docker) logs talk").output
            return logs.contains("logged")
        }
        #expect(logs.contains("logged"))
        #expect(try shell("\(docker) run -d --name hc \(flags) --health-cmd true --health-interval 1s skiff-busybox sleep 60").status == 0)
        var health = ""
        try Harness.waitFor(seconds: 15, every: 0.25) {
            health = try inspect("{{.State.Health.Status}}", "hc")
            return health == "healthy"
        }
        #expect(health == "healthy")
        #expect(try shell("\(docker) run -d --name rs \(flags) --restart on-failure:2 skiff-busybox sh -c 'exit 1'").status == 0)
        var restarts = ""
        try Harness.waitFor(seconds: 15, every: 0.25) {
            restarts = try inspect("{{.RestartCount}} {{.State.Status}}", "rs")
            return restarts == "2 exited"
        }
        #expect(restarts == "2 exited")
        #expect(try shell("\(docker) rm -f talk hc rs").status == 0)
    }
}
