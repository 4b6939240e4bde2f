// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// `--pidfd-socket` (runc 1.3) on create, run and exec: the process's pidfd arrives over the
/// socket by SCM_RIGHTS, as containerd's shim receives it, and is that process's (its fdinfo
/// names its pid; a signal sent through it reaches it).
@Suite("--pidfd-socket")
struct PidfdSocketTests {
    /// A listener in the role of containerd's shim: accepts one connection, takes the pidfd,
    /// prints the message and the pid the kernel says the pidfd is of, and sends SIGKILL
    /// through it.
    static let listener = """
        import os, signal, socket, sys
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(sys.argv[1]); server.listen(1)
        print("listening", flush=True)
        connection, _ = server.accept()
        message, fds, _, _ = socket.recv_fds(connection, 64, 1)
        pid = [line.split()[1] for line in open("/proc/self/fdinfo/%d" % fds[0]) if line.startswith("Pid:")][0]
        print(message.decode(), pid, flush=True)
        signal.pidfd_send_signal(fds[0], signal.SIGKILL)
        print("killed", flush=True)
        """

    /// The listener, started; its socket path.
    static func listen(in directory: String) throws -> (Harness.Running, String) {
        let script = directory + "/listener.py", path = directory + "/pidfd.sock"
        try listener.write(toFile: script, atomically: true, encoding: .utf8)
        let running = Harness.start(["python3", script, path], executable: "/usr/bin/env")
        #expect(Harness.waitFor(seconds: 10) { FileManager.default.fileExists(atPath: path) })
        return (running, path)
    }

    @Test func createSendsTheInitsPidfd() throws {
        let sandbox = Sandbox(args: ["sleep", "100"])
        sandbox.writeConfig()
        let (listener, path) = try Self.listen(in: sandbox.bundle)
        let id = Harness.id("pidfd")
        let pidFile = sandbox.bundle + "/init.pid"
        let created = sandbox.skiff(["create", "--pidfd-socket", path, "--pid-file", pidFile, "--bundle", sandbox.bundle, id])
        #expect(created.status == 0, "\(created.stderr)")
        let pid = try String(contentsOfFile: pidFile, encoding: .utf8)
        let heard = listener.finish().stdout.split(separator: "\n").map(String.init)
        #expect(heard == ["listening", "pidfd \(pid)", "killed"], "\(heard)")
        #expect(sandbox.waitUntilStopped(id), "SIGKILL through the pidfd did not stop the container")
        #expect(sandbox.skiff(["delete", id]).status == 0)
    }

    @Test func execSendsTheExecdProcesssPidfd() throws {
        let sandbox = Sandbox(args: ["sleep", "100"])
        sandbox.writeConfig()
        let id = Harness.id("pidfd-exec")
        #expect(sandbox.skiff(["run", "--detach", "--bundle", sandbox.bundle, id]).status == 0)
        let (listener, path) = try Self.listen(in: sandbox.bundle)
        let pidFile = sandbox.bundle + "/exec.pid"
        let exec = sandbox.skiff(["exec", "--detach", "--pid-file", pidFile, "--pidfd-socket", path, id, "sleep", "100"])
        #expect(exec.status == 0, "\(exec.stderr)")
        let pid = try String(contentsOfFile: pidFile, encoding: .utf8)
        let heard = listener.finish().stdout.split(separator: "\n").map(String.init)
        #expect(heard == ["listening", "pidfd \(pid)", "killed"], "\(heard)")
        #expect(Harness.waitFor(seconds: 5) { kill(Int32(pid)!, 0) != 0 }, "the exec'd process outlived SIGKILL through its pidfd")
        sandbox.skiff(["delete", "--force", id])
    }

    /// Nobody listening: one line naming the flag and the path, nothing made.
    @Test func aSocketNobodyListensOnLeavesNothing() {
        let sandbox = Sandbox(args: ["sleep", "100"])
        sandbox.writeConfig()
        let id = Harness.id("pidfd-bad")
        let result = sandbox.skiff(["create", "--pidfd-socket", sandbox.bundle + "/nobody.sock", "--bundle", sandbox.bundle, id])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--pidfd-socket \(sandbox.bundle)/nobody.sock: No such file or directory"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        sandbox.expectNothingLeft(id)
    }
}
