// SPDX-License-Identifier: Apache-2.0
import Glibc

/// Another program, started with posix_spawn (no Swift runs in the child) and waited for.
public enum Subprocess {
    /// Where a child's standard descriptors come from: a file opened for it, or a descriptor
    /// duplicated (one of ours, or one of its own set before it: streams are set in order of
    /// their numbers, so `2: .descriptor(1)` after `1: .file(…)` is a stderr that is its stdout).
    public enum Stream {
        case file(String, flags: Int32, mode: mode_t = 0o600)
        case descriptor(Int32)
    }

    /// Starts `path` with `arguments` (argv[0] is `path`), the environment given (ours when
    /// nil), and `streams` by child descriptor number (0, 1, 2, set in that order). Returns
    /// its pid.
    ///
    /// The child starts with no signal blocked and every signal's disposition the default:
    /// a thread of a Swift program (a test's, a scheduler's) may block nearly every signal or
    /// ignore SIGPIPE, and a child that inherited that could not be ended by SIGTERM, nor
    /// stop when its reader goes.
    public static func spawn(
        _ path: String, _ arguments: [String], environment: [String]? = nil,
        streams: [Int32: Stream] = [:]
    ) throws(SystemError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (number, stream) in streams.sorted(by: { $0.key < $1.key }) {
            switch stream {
            case .file(let file, let flags, let mode): posix_spawn_file_actions_addopen(&actions, number, file, flags, mode)
            case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd, number)
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup($0) } + [nil] }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result =
            if var envp {
                posix_spawn(&pid, path, &actions, &attributes, argv, &envp)
            } else {
                posix_spawn(&pid, path, &actions, &attributes, argv, environ)
            }
        guard result == 0 else { throw SystemError("starting \(path)", errno: result) }
        return pid
    }

    /// `variables` as an environment: "NAME=value" strings.
    public static func environment(_ variables: [String: String]) -> [String] { variables.map { "\($0.key)=\($0.value)" } }

    /// Waits for `pid`; returns its wait status.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// A wait status as a shell reports it: the exit code, or 128+N for signal N.
    public static func exitCode(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
