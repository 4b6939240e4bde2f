// SPDX-License-Identifier: Apache-2.0
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
    var daemon: NodeNamespaceDaemon?

    var docker: String { "/usr/bin/docker -H unix://\(directory)/docker.sock" }

    init() throws {
        let config = """
            {"runtimes": {"skiff": {"path": "\(Harness.skiff)"}}, "bridge": "none", "iptables": false, "ip6tables": false,
             "ip-masq": false, "ip-forward": false, "storage-driver": "vfs", "exec-opts": ["native.cgroupdriver=cgroupfs"]}
            """
        try config.write(toFile: directory + "/daemon.json", atomically: true, encoding: .utf8)
        daemon = try NodeNamespaceDaemon(
            "/usr/sbin/dockerd",
            [
                "--config-file", directory + "/daemon.json", "--data-root", directory + "/data", "--exec-root", directory + "/exec",
                "--pidfile", directory + "/docker.pid", "-H", "unix://\(directory)/docker.sock",
            ], namespacePrefix: "skiff-docker-", log: directory + "/dockerd.log")
        try Harness.waitFor(seconds: 15, every: 0.1) { try shell("\(docker) version --format '{{.Server.Version}}'").status == 0 }
        let imported = try shell("tar -C \(Harness.rootfs) -c . | \(docker) import - skiff-busybox")
        #expect(imported.status == 0, "\(imported.output)")
    }

    deinit {
        _ = try? shell("\(docker) rm -f $(\(docker) ps -aq) 2>/dev/null; true")
        daemon?.stop(unmountingUnder: directory)
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
    static let checks = 44
}
