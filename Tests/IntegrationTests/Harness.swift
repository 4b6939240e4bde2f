// SPDX-License-Identifier: Apache-2.0
import CShims
import Foundation
import SkiffCgroups
import SkiffSpec
import SkiffSystem
import Testing

/// Runs the real `skiff` binary (as users and schedulers do) against real bundles.
enum Harness {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var skiff: String {
        ProcessInfo.processInfo.environment["SKIFF_BINARY"] ?? repository + "/.build/release/skiff"
    }

    static let rootfs = repository + "/rootfs"

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var output: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// A scratch directory under /tmp, removed by `cleanup`.
    static func temporaryDirectory(_ prefix: String = "skiff-test") -> String {
        let path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs `skiff <arguments>` and waits for it.
    @discardableResult
    static func skiff(_ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil) -> Result {
        let process = start(arguments, stdin: stdin, environment: environment)
        return process.finish()
    }

    /// Runs any program the same way (output captured, no stdin) and waits for it.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) -> Result {
        start(arguments, executable: executable, environment: environment).finish()
    }

    /// Copies executables into `directory` (mode 0755) through `install`, not through this
    /// process: a descriptor this process held open for writing could be inherited by another
    /// test's child forked meanwhile, and running the copy would then fail with "Text file busy"
    /// (one CI run saw it).
    static func installExecutables(_ sources: [String], into directory: String) throws {
        try install(["-t", directory] + sources)
    }

    /// A script written for running: written as text beside `path`, then installed there
    /// executable, for the reason `installExecutables` gives.
    static func writeScript(_ script: String, to path: String) throws {
        let text = path + ".text"
        try script.write(toFile: text, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: text) }
        try install([text, path])
    }

    private static func install(_ arguments: [String]) throws {
        let copied = run("/usr/bin/install", ["-m", "0755"] + arguments)
        guard copied.status == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "install: \(copied.stderr)"])
        }
    }

    /// A program started by `start`: its pid, and where its output goes.
    final class Running {
        let pid: pid_t
        let out: String
        let err: String
        /// The writing end of its stdin, when that is kept open until it exits.
        private var input: Int32
        private var result: Result?

        init(pid: pid_t, out: String, err: String, input: Int32) {
            self.pid = pid
            self.out = out
            self.err = err
            self.input = input
        }

        /// Waits for it (once) and reads what it printed.
        @discardableResult
        func finish() -> Result {
            if let result { return result }
            let status = Subprocess.exitCode(Subprocess.wait(pid))
            if input >= 0 { close(input) }
            input = -1
            let stdout = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
            result = Result(status: status, stdout: stdout, stderr: stderr)
            return result!
        }
    }

    /// This process takes a reader that went away as EPIPE, not as its death.
    private static let brokenPipesIgnored: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Starts `executable` (skiff by default) with `arguments`, stdout and stderr to files of
    /// its own and stdin from `stdin` (kept open until it exits with `keepingInputOpen`) or
    /// /dev/null. posix_spawn, not Foundation's `Process`: the child opens its output files
    /// itself, and every descriptor of ours it gets is close-on-exec here. Under the suite's
    /// concurrency `Process` has handed a child a descriptor number that meanwhile named
    /// another test's pipe (a VM script's output lost, the script ending with SIGPIPE), and its
    /// FileHandles are not close-on-exec, so every child started meanwhile inherited them.
    static func start(
        _ arguments: [String], executable: String = skiff, stdin: String? = nil,
        environment: [String: String]? = nil, keepingInputOpen: Bool = false
    ) -> Running {
        _ = brokenPipesIgnored
        let out = NSTemporaryDirectory() + "skiff-out-\(UUID().uuidString)"
        let err = NSTemporaryDirectory() + "skiff-err-\(UUID().uuidString)"
        let created = Int32(O_WRONLY | O_CREAT | O_TRUNC)
        var streams: [Int32: Subprocess.Stream] = [1: .file(out, flags: created), 2: .file(err, flags: created)]
        var ends: [Int32] = [-1, -1]
        if stdin != nil {
            precondition(skiff_pipe_cloexec(&ends) == 0, "pipe2: \(errno)")
            streams[0] = .descriptor(ends[0])
        } else {
            streams[0] = .file("/dev/null", flags: O_RDONLY)
        }
        let pid: pid_t
        do {
            pid = try Subprocess.spawn(executable, arguments, environment: environment.map(Subprocess.environment), streams: streams)
        } catch {
            fatalError("\(error)")
        }
        var input: Int32 = -1
        if let stdin {
            close(ends[0])
            let writing = FileDescriptor(adopting: ends[1])
            // (A child that exits without reading all of it: EPIPE, and what it read stands.)
            try? writing.write(Array(stdin.utf8), step: "writing the child's stdin")
            if keepingInputOpen { input = writing.release() }
        }
        return Running(pid: pid, out: out, err: err, input: input)
    }

    /// The node's mounts whose mount point is one of `points` or lies below one of `below`, as
    /// mountinfo lines. Tests compare these, not the whole table: other suites running beside
    /// them (Docker, containerd, network namespaces) mount and unmount elsewhere meanwhile.
    static func hostMounts(at points: Set<String>, below: [String] = []) throws -> [String] {
        try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n").map(String.init).filter { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return false }
            let point = String(fields[4])
            return points.contains(point) || below.contains { point.hasPrefix($0) }
        }
    }

    /// A unique container id for one test.
    static func id(_ name: String) -> String { "t-\(name)-\(UUID().uuidString.prefix(6).lowercased())" }

    /// Polls `condition` every `interval` seconds for up to `seconds`; whether it came to hold.
    @discardableResult
    static func waitFor(seconds: Double, every interval: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<Int(seconds / interval) {
            if try condition() { return true }
            usleep(UInt32(interval * 1_000_000))
        }
        return try condition()
    }
}

/// One test's world: its own state root and bundle directory, both removed at the end.
final class Sandbox {
    let root: String
    let bundle: String
    var spec: Spec

    init(args: [String] = ["true"]) {
        root = Harness.temporaryDirectory("skiff-root")
        bundle = Harness.temporaryDirectory("skiff-bundle")
        spec = .defaultSpec(rootfs: Harness.rootfs)
        spec.process?.args = args
    }

    deinit {
        // Nothing a test made may outlive it; the tests assert that before this runs.
        for id in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where !id.hasPrefix(".") {
            Harness.skiff(["--root", root, "delete", "--force", id])
        }
        try? FileManager.default.removeItem(atPath: root)
        try? FileManager.default.removeItem(atPath: bundle)
    }

    /// Writes `spec` as the bundle's config.json.
    func writeConfig() {
        let bytes = SpecLoader.encode(spec)
        #expect(FileManager.default.createFile(atPath: bundle + "/config.json", contents: Data(bytes)))
    }

    func writeRawConfig(_ text: String) {
        #expect(FileManager.default.createFile(atPath: bundle + "/config.json", contents: text.data(using: .utf8)))
    }

    @discardableResult
    func skiff(_ arguments: [String], stdin: String? = nil) -> Harness.Result {
        Harness.skiff(["--root", root] + arguments, stdin: stdin)
    }

    /// skiff under strace, every `fork` of its processes returning to the parent `seconds`
    /// late: what a loaded node does now and then to a parent scheduled out after a fork,
    /// made to happen every time (the child runs on meanwhile). strace's lines for the forks
    /// go to `trace` (`PID fork() = CHILD (DELAYED)`).
    func skiffWithSlowForks(_ arguments: [String], seconds: Double = 0.2, trace: String = "/dev/null") -> Harness.Result {
        let delay = "fork:delay_exit=\(Int(seconds * 1_000_000))"
        return Harness.run(
            "/usr/bin/strace", ["-f", "-qq", "-o", trace, "-e", "trace=fork", "-e", "inject=" + delay, Harness.skiff, "--root", root] + arguments)
    }

    /// `run` the current spec in the foreground and return what it printed.
    func run(_ id: String = Harness.id("run"), stdin: String? = nil) -> Harness.Result {
        writeConfig()
        return skiff(["run", "--bundle", bundle, id], stdin: stdin)
    }

    /// Waits up to `seconds` for the container to be reported stopped; whether it was.
    @discardableResult
    func waitUntilStopped(_ id: String, seconds: Double = 10) -> Bool {
        Harness.waitFor(seconds: seconds, every: 0.01) { status(id) == "stopped" }
    }

    /// Waits up to `seconds` until the container's process has a handler for `signal` (its
    /// `SigCgt` in /proc): pid 1 of a pid namespace drops a signal from outside that it has no
    /// handler for, so a test that signals a trapping shell must wait for the trap.
    @discardableResult
    func waitUntilCatching(_ signal: Int32, in id: String, seconds: Double = 3) -> Bool {
        guard let pid = state(id)?["pid"] as? Int else { return false }
        return Harness.waitFor(seconds: seconds, every: 0.01) {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
                let mask = UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16)
            else { return false }
            return mask & (1 << UInt64(signal - 1)) != 0
        }
    }

    /// The container's status as `state` reports it; nil when `state` fails.
    func status(_ id: String) -> String? { state(id)?["status"] as? String }

    func state(_ id: String) -> [String: Any]? {
        let result = skiff(["state", id])
        guard result.status == 0 else { return nil }
        return try? JSONSerialization.jsonObject(with: result.stdout.data(using: .utf8)!) as? [String: Any]
    }

    /// `create` with the bundle as it is on disk fails, says `message`, and leaves nothing.
    /// `oneLine`: the whole error is that one line (bad input's promise).
    func expectCreateFails(_ message: String, oneLine: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) {
        let id = Harness.id("bad")
        let result = skiff(["create", "--bundle", bundle, id])
        #expect(result.status != 0, sourceLocation: sourceLocation)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        if oneLine {
            #expect(result.stderr.split(separator: "\n").count == 1, "not one line: \(result.stderr)", sourceLocation: sourceLocation)
        }
        expectNothingLeft(id, sourceLocation: sourceLocation)
    }

    /// A fresh sandbox, changed by `configure`, whose `create` fails with `message` and
    /// leaves nothing.
    static func expectCreateFails(
        configuring configure: (Sandbox) -> Void, _ message: String, oneLine: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let sandbox = Sandbox()
        configure(sandbox)
        sandbox.writeConfig()
        sandbox.expectCreateFails(message, oneLine: oneLine, sourceLocation: sourceLocation)
    }

    /// Nothing of container `id` is left: no state directory, no cgroup, no mount.
    func expectNothingLeft(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!FileManager.default.fileExists(atPath: root + "/" + id), "state directory of \(id) left", sourceLocation: sourceLocation)
        for directory in ContainerCgroup.plan(cgroupsPath: nil, id: id, system: .current()).directories {
            #expect(!FileManager.default.fileExists(atPath: directory.path), "cgroup \(directory.path) left", sourceLocation: sourceLocation)
        }
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        #expect(!mounts.contains(bundle), "a mount of \(bundle) left", sourceLocation: sourceLocation)
    }
}
