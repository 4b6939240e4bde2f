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

    /// The scenario (helpers/docker-scenario.sh) is the one the systemd VM runs with Docker's
    /// defaults there; every check must pass, none may be skipped.
    @Test func whatDockerUsersDoWorksUnderSkiff() throws {
        let scenario = try shell(
            "env DOCKER='\(docker)' SCRATCH=\(directory) \(Harness.repository)/Tests/IntegrationTests/helpers/docker-scenario.sh 2>&1")
        let lines = scenario.output.split(separator: "\n")
        #expect(scenario.status == 0 && !lines.contains { $0.hasPrefix("not ok") }, "\(scenario.output)")
        #expect(lines.filter { $0.hasPrefix("ok - ") }.count == DockerTests.checks, "\(scenario.output)")
    }

    /// How many checks docker-scenario.sh makes.
    static let checks = 39
}
