// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSystem

/// An engine's daemon of the tests' own (dockerd, containerd with its CRI plugin) in a network
/// namespace the test makes to play the node: whatever the daemon sets up for networking
/// (bridges, CNI, firewall rules) lands there, never in the machine's own namespace. Started
/// with nsenter (which execs the daemon, so the pid is the daemon's), its output in `log`;
/// `stop` ends it by that pid, unmounts what it left under `directory` and removes the namespace.
struct NodeNamespaceDaemon {
    let namespace: String
    private(set) var pid: pid_t
    private let command: [String]
    private let log: String

    init(_ executable: String, _ arguments: [String], namespacePrefix: String, log: String) throws {
        namespace = namespacePrefix + UUID().uuidString.prefix(8).lowercased()
        guard Harness.run("/usr/bin/ip", ["netns", "add", namespace]).status == 0 else {
            throw SystemError("making the network namespace \(namespace)", errno: EIO)
        }
        Harness.run("/usr/bin/ip", ["-n", namespace, "link", "set", "lo", "up"])
        command = [executable] + arguments
        self.log = log
        pid = try Self.spawn(command, in: namespace, log: log)
    }

    private static func spawn(_ command: [String], in namespace: String, log: String) throws -> pid_t {
        try Subprocess.spawn(
            "/usr/bin/nsenter", ["--net=/run/netns/\(namespace)", "--"] + command,
            streams: [
                0: .file("/dev/null", flags: O_RDONLY), 1: .file(log, flags: O_WRONLY | O_CREAT | O_APPEND, mode: 0o644),
                2: .file(log, flags: O_WRONLY | O_CREAT | O_APPEND, mode: 0o644),
            ])
    }

    /// The daemon ended (SIGTERM) and started again in the same namespace, as after an
    /// upgrade or a crash: what it started (containerd's shims) keeps running.
    mutating func restart() throws {
        end()
        pid = try Self.spawn(command, in: namespace, log: log)
    }

    /// SIGTERM, SIGKILL after 10 s.
    private func end() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        if !Harness.waitFor(seconds: 10, every: 0.1, { waitpid(pid, &status, WNOHANG) != 0 }) {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
    }

    /// Ends it; then the mounts it left under `directory`, and the namespace.
    func stop(unmountingUnder directory: String) {
        end()
        _ = try? PodmanTests.Shell().run("grep -o ' \(directory)[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l", in: "/")
        Harness.run("/usr/bin/ip", ["netns", "delete", namespace])
    }
}
