// SPDX-License-Identifier: Apache-2.0
import Glibc

/// Another program, started with posix_spawn (no Swift runs in the child) and waited for.
public enum Subprocess {
    /// Where a child's standard descriptors come from: a file opened for it, or one of ours.
    public enum Stream {
        case file(String, flags: Int32, mode: mode_t = 0o600)
        case descriptor(Int32)
    }

    /// Starts `path` with `arguments` (argv[0] is `path`), the environment given (ours when
    /// nil), and `streams` by child descriptor number (0, 1, 2). Returns its pid.
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
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup($0) } + [nil] }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result =
            if var envp {
                posix_spawn(&pid, path, &actions, nil, argv, &envp)
            } else {
                posix_spawn(&pid, path, &actions, nil, argv, environ)
            }
        guard result == 0 else { throw SystemError("starting \(path)", errno: result) }
        return pid
    }

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
