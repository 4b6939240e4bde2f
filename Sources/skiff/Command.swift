// SPDX-License-Identifier: Apache-2.0
import SkiffRuntime

/// One `skiff` command: its options, how many positionals it takes, and what it does.
struct Command: Sendable {
    var name: String
    var summary: String
    var usage: String
    var positionals: ClosedRange<Int>
    var options: [OptionSpec] = []
    /// After this many positionals the rest are the command's own arguments.
    var optionsEndAfter: Int? = nil
    /// The exit status of any error (`check` says 2: "the check could not run").
    var failureStatus: Int32 = 1
    var action: @Sendable (Arguments, Context) throws -> Int32
}

/// What every command gets: the parsed global options, as a logger and a runtime.
struct Context: Sendable {
    var log: Log
    var runtime: Runtime
}

/// runc's global options (accepted before or after the command name).
let globalOptions: [OptionSpec] = [
    .value("root", "DIR", "directory for container state (default \(StateStore.defaultRoot))"),
    .value("log", "FILE", "also write log messages to FILE"),
    .value("log-format", "FORMAT", "log file format: text or json (default text)"),
    .flag("debug", "log debug messages (each step of create, with timings)"),
    .flag("systemd-cgroup", "use the systemd cgroup driver (a transient scope made by systemd; cgroupsPath is slice:prefix:name)"),
    // Passed by runc's callers (go-runc writes --rootless=BOOL when told): skiff always
    // decides as runc's auto does, from its effective uid, and never ignores a cgroup error.
    .value("rootless", "true|false|auto", "accepted as runc's; skiff decides from its effective uid (runc's auto)"),
    .value("criu", "PATH", "the CRIU program for checkpoint and restore (default: criu in /usr/sbin or on the usual paths)"),
    .flag("help", short: "h", "show help"),
    .flag("version", short: "v", "print the version"),
]

/// Options of `create` and `run`.
let createOptions: [OptionSpec] = [
    .value("bundle", short: "b", "DIR", "the bundle directory, holding config.json (default .)"),
    .value("pid-file", "FILE", "write the container's pid to FILE (no trailing newline)"),
    .value("console-socket", "SOCKET", "AF_UNIX socket to send the terminal's pty master to (process.terminal)"),
    .flag("no-pivot", "use MS_MOVE and chroot instead of pivot_root (for a rootfs on ramfs)"),
    .flag("no-new-keyring", "keep the caller's session keyring instead of a new one"),
    .value("preserve-fds", "N", "pass N descriptors after stdio (3, 4, ...) to the container"),
    .value("pidfd-socket", "SOCKET", "AF_UNIX socket to send the container process's pidfd to"),
]
