// SPDX-License-Identifier: Apache-2.0
import CShims
import Foundation
import SkiffSpec
import Testing

@Suite("terminals")
struct TerminalTests {
    /// A listening AF_UNIX socket at a fresh path: the console socket a scheduler would give.
    final class ConsoleSocket {
        let path: String
        let fd: Int32

        init() {
            path = Harness.temporaryDirectory("skiff-console") + "/console.sock"
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            listen(fd, 4)
        }

        deinit {
            close(fd)
            try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
        }

        /// Accept the runtime's connection and take the pty master it sends.
        func receiveMaster() -> (master: Int32, name: String) {
            let client = accept(fd, nil, nil)
            defer { close(client) }
            var name = [UInt8](repeating: 0, count: 64)
            var master: Int32 = -1
            let n = name.withUnsafeMutableBytes { skiff_receive_message(client, $0.baseAddress, $0.count, &master) }
            return (master, String(decoding: name.prefix(max(n, 0)), as: UTF8.self))
        }
    }

    /// Reads from the pty master until `marker` appears (or a few seconds pass).
    static func read(_ master: Int32, until marker: String) -> String {
        var output = ""
        for _ in 0..<300 {
            var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 1, 10) > 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = Glibc.read(master, &buffer, buffer.count)
                if n <= 0 { break }
                output += String(decoding: buffer[..<n], as: UTF8.self)
                if output.contains(marker) { break }
            }
        }
        return output
    }

    func terminalSandbox(_ args: [String]) -> Sandbox {
        let sandbox = Sandbox(args: args)
        sandbox.spec.process?.terminal = true
        sandbox.spec.process?.consoleSize = .init(height: 30, width: 100)
        return sandbox
    }

    @Test func runRelaysTheTerminalItself() throws {
        let sandbox = terminalSandbox(["sh"])
        sandbox.writeConfig()
        // stdin stays open until `script` exits: at its end of input it would end the session.
        let script = Harness.start(
            ["-qec", "\(Harness.skiff) --root \(sandbox.root) run -b \(sandbox.bundle) \(Harness.id("tty"))", "/dev/null"],
            executable: "/usr/bin/script", stdin: "tty; stty size; exit 4\n", keepingInputOpen: true)
        let finished = script.finish()
        let text = finished.stdout
        #expect(finished.status == 4, "\(text)")
        #expect(text.contains("/dev/pts/0"), "\(text)")
        #expect(text.contains("30 100"), "\(text)")  // process.consoleSize
    }

    @Test func theMasterGoesToTheConsoleSocket() throws {
        let console = ConsoleSocket()
        let sandbox = terminalSandbox(["sh", "-c", "tty; ls -l /dev/console | cut -c1; read line; echo got-$line"])
        sandbox.writeConfig()
        let id = Harness.id("console")
        let created = sandbox.skiff(["create", "--console-socket", console.path, "-b", sandbox.bundle, id])
        #expect(created.status == 0, "\(created.stderr)")
        defer {
            sandbox.skiff(["delete", "--force", id])
            sandbox.expectNothingLeft(id)
        }
        let (master, name) = console.receiveMaster()
        #expect(master >= 0)
        #expect(name == "/dev/pts/0")
        defer { close(master) }
        #expect(sandbox.skiff(["start", id]).status == 0)
        _ = "ping\n".withCString { write(master, $0, 5) }
        let text = Self.read(master, until: "got-ping")
        #expect(text.contains("/dev/pts/0"), "\(text)")
        #expect(text.contains("c"), "\(text)")  // /dev/console is the pty, a character device
        #expect(text.contains("got-ping"), "\(text)")
    }

    @Test func execGetsATerminalToo() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        let id = Harness.id("exec-tty")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        defer { sandbox.skiff(["delete", "--force", id]) }
        let console = ConsoleSocket()
        let exec = Harness.start(["--root", sandbox.root, "exec", "-t", "--console-socket", console.path, id, "sh", "-c", "tty; exit 6"])
        let (master, _) = console.receiveMaster()
        defer { close(master) }
        let text = Self.read(master, until: "\n")
        #expect(exec.finish().status == 6)
        #expect(text.hasPrefix("/dev/pts/"), "\(text)")
    }

    @Test func badConsoleSocketsAreRefused() {
        let sandbox = terminalSandbox(["sh"])
        sandbox.writeConfig()
        let id = Harness.id("console-bad")
        let missing = sandbox.skiff(["create", "--console-socket", "/nonexistent/console.sock", "-b", sandbox.bundle, id])
        #expect(missing.stderr.contains("--console-socket /nonexistent/console.sock: No such file or directory"), "\(missing.stderr)")
        sandbox.expectNothingLeft(id)
        let detached = sandbox.skiff(["create", "-b", sandbox.bundle, id])
        #expect(detached.stderr.contains("process.terminal: a terminal needs --console-socket"))
        sandbox.expectNothingLeft(id)
        let plain = Sandbox()
        plain.writeConfig()
        let console = ConsoleSocket()
        let unused = plain.skiff(["create", "--console-socket", console.path, "-b", plain.bundle, id])
        #expect(unused.stderr.contains("--console-socket: only for a process with a terminal"))
        plain.expectNothingLeft(id)
    }
}
