// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSystem

/// CRIU, through which skiff checkpoints and restores: its command line (`criu dump`,
/// `criu restore`), not its RPC socket (DESIGN.md, "Checkpoint and restore", says why). Each
/// run logs to a file of the image (or work) directory; a failure is said in one line, CRIU's
/// first error from that log.
public struct CRIU: Sendable {
    public var path: String

    public init(path: String) { self.path = path }

    /// `--criu PATH` when given, else `criu` where Debian installs it.
    public static func locate(_ explicit: String? = nil) -> CRIU? {
        if let explicit { return access(explicit, X_OK) == 0 ? CRIU(path: explicit) : nil }
        for directory in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] where access(directory + "/criu", X_OK) == 0 {
            return CRIU(path: directory + "/criu")
        }
        return nil
    }

    /// Whether CRIU can checkpoint on this kernel: `criu check`'s verdict.
    public enum Availability: Sendable, Equatable {
        case available(version: String)
        /// CRIU's own reason (its first error), or that it is not installed.
        case unavailable(reason: String)
    }

    public static func availability(_ explicit: String? = nil) -> Availability {
        guard let criu = locate(explicit) else { return .unavailable(reason: "criu is not installed (apt-get install criu)") }
        let (status, output) = criu.capture(["check"])
        if status != 0 {
            return .unavailable(reason: "criu check: " + (firstError(in: output) ?? "exit status \(Subprocess.exitCode(status))"))
        }
        let version = criu.capture(["--version"]).output.split(separator: "\n").first { $0.hasPrefix("Version: ") }
        return .available(version: version.map { String($0.dropFirst("Version: ".count)) } ?? "unknown")
    }

    /// CRIU's first error in its log text, without the source location: "Error
    /// (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds" says "vdso: Unexpected rt vDSO
    /// area bounds".
    static func firstError(in text: String) -> String? {
        guard let line = text.split(separator: "\n").first(where: { $0.contains("Error (") }) else { return nil }
        guard let close = line.firstRange(of: "): ") else { return String(line) }
        return String(line[close.upperBound...]).trimmingWhitespace
    }

    static func firstError(inLog path: String) -> String? {
        guard let bytes = try? readFile(path) else { return nil }
        return firstError(in: String(decoding: bytes, as: UTF8.self))
    }

    /// A pipe whose ends close on exec: (read, write).
    static func pipe() -> [Int32]? {
        var ends: [Int32] = [0, 0]
        guard skiff_pipe_cloexec(&ends) == 0 else { return nil }
        return ends
    }

    /// Runs `criu arguments` with its output captured: (wait status, output).
    func capture(_ arguments: [String]) -> (status: Int32, output: String) {
        guard let ends = Self.pipe() else { return (1 << 8, "pipe: \(SystemError.text(of: errno))") }
        let reading = FileDescriptor(adopting: ends[0])
        let pid: pid_t
        do throws(SystemError) {
            pid = try Subprocess.spawn(
                path, arguments, streams: [0: .file("/dev/null", flags: O_RDONLY), 1: .descriptor(ends[1]), 2: .descriptor(ends[1])])
        } catch {
            close(ends[1])
            return (127 << 8, error.description)
        }
        close(ends[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = read(reading.rawValue, &buffer, buffer.count)
            if got < 0, errno == EINTR { continue }
            if got <= 0 { break }
            output += buffer[0..<got]
        }
        return (Subprocess.wait(pid), String(decoding: output, as: UTF8.self))
    }

    /// What a restore hands CRIU's held child for a task with skiff's network: the rules it
    /// sends from inside the container's cgroup, and `ready`, called once they are in (the
    /// task's interface is made there), before CRIU runs.
    struct TaskRules {
        var socket: Int32
        var batch: Int32
        var ready: () throws(RuntimeError) -> Void
    }

    /// What a restore of a task with a terminal hands CRIU's held child: the devpts instance
    /// it mounts on `directory` (the container's /dev/pts again, as an external mount), the
    /// console socket its new pty's master goes to, and the descriptor numbers its peer is put
    /// on (placeholders', so the numbers are free), which CRIU inherits as the task's
    /// terminals, one per key.
    struct RestoredTerminal {
        var directory: String
        var flags: UInt
        var data: String
        var consoleSocket: Int32
        var descriptors: [Int32]
    }

    /// A run of CRIU: started held, `placed` called with its pid (the restore puts it in the
    /// container's cgroup there), then released and waited for. It dies with skiff while
    /// held, and, unless `outlivingSkiff` (a dump: see skiff_spawn_criu), while it runs. With
    /// `root`, CRIU runs in a mount namespace of its own where the bundle's root is bound on
    /// `root.mountPoint`.
    /// Returns nothing when CRIU exits 0; otherwise throws its first logged error.
    func run(
        _ arguments: [String], log: String, root: (source: String, mountPoint: String)? = nil, inheriting kept: [Int32] = [],
        rules: TaskRules? = nil, terminal: RestoredTerminal? = nil, outlivingSkiff: Bool = false,
        placed: (pid_t) throws(RuntimeError) -> Void = { _ throws(RuntimeError) in }
    ) throws(RuntimeError) {
        guard let gate = Self.pipe() else { throw .system("creating CRIU's release pipe", errno) }
        let releaseEnd = FileDescriptor(adopting: gate[1])
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let rootSource = root.map { strdup($0.source) }, rootMount = root.map { strdup($0.mountPoint) }
        let devpts = terminal.map { [strdup($0.directory), strdup($0.directory + "/ptmx"), strdup($0.data)] } ?? [nil, nil, nil]
        defer {
            argv.forEach { free($0) }
            free(rootSource ?? nil)
            free(rootMount ?? nil)
            devpts.forEach { free($0) }
        }
        let terminalDescriptors = terminal?.descriptors ?? []
        let pid = kept.withUnsafeBufferPointer { keep in
            argv.withUnsafeBufferPointer { argvBuffer in
                terminalDescriptors.withUnsafeBufferPointer { terminals in
                    // CRIU gets this process's own environment, as `Subprocess.spawn` gives it.
                    var request = skiff_criu_request(
                        path: argvBuffer[0], argv: argvBuffer.baseAddress, envp: environ, release_fd: gate[0],
                        root: rootSource ?? nil, root_mount: rootMount ?? nil, keep_fds: keep.baseAddress, keep_count: Int32(keep.count),
                        rules_socket: rules?.socket ?? -1, rules_batch: rules?.batch ?? -1,
                        devpts_dir: devpts[0], devpts_ptmx: devpts[1], devpts_data: devpts[2], devpts_flags: terminal?.flags ?? 0,
                        console_socket: terminal?.consoleSocket ?? -1, terminal_fds: terminals.baseAddress, terminal_count: Int32(terminals.count),
                        outlive_caller: outlivingSkiff ? 1 : 0)
                    return skiff_spawn_criu(&request)
                }
            }
        }
        close(gate[0])
        guard pid > 0 else { throw .system("starting \(path)", errno) }
        do throws(RuntimeError) {
            try placed(pid)
            try systemStep { () throws(SystemError) in try releaseEnd.write([1], step: "releasing CRIU") }
            if let rules {
                try rules.ready()
                try systemStep { () throws(SystemError) in try releaseEnd.write([1], step: "releasing CRIU") }
            }
        } catch {
            Glibc.kill(pid, SIGKILL)
            _ = Subprocess.wait(pid)
            throw error
        }
        let status = Subprocess.wait(pid)
        guard status != 0 else { return }
        if let step = Self.heldChildSteps[Subprocess.exitCode(status)] { throw .criu("before CRIU ran: \(step) failed") }
        let reason = Self.firstError(inLog: log) ?? "exit status \(Subprocess.exitCode(status))"
        throw .criu("\(reason) (CRIU's log: \(log))")
    }

    /// What skiff_spawn_criu's child was doing when it exited with these statuses, before
    /// CRIU (which never exits with them) was executed.
    static let heldChildSteps: [Int32: String] = [
        126: "setting up CRIU's mount namespace", 125: "waiting to be released", 124: "sending the task's rules",
        123: "making the restored terminal (a devpts instance, its pty, the master to the console socket)",
    ]
}
