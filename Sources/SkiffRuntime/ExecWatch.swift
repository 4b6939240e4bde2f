// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSystem

/// When a container's process has been executed: its executable is no longer skiff-init, which
/// runs from a sealed memfd named `SKIFF_INIT_MEMFD_NAME` (`skiff_sealed_copy`), so `/proc/PID/exe` reads
/// `/memfd:skiff-init (deleted)` until the execve. poststart hooks run from then on
/// (runtime-spec 1.3: "after the user-specified process is executed"); before, they raced the
/// startContainer hooks and the execve itself.
enum ExecWatch {
    static let initExecutable = "/memfd:" + SKIFF_INIT_MEMFD_NAME

    /// Returns once `pid` runs another executable than skiff-init, or is gone. No time limit,
    /// as runc's `start` has none: what stands between the release and the execve is the
    /// startContainer hooks, each bounded by its own timeout.
    static func waitUntilExecuted(pid: Int32, startTime: UInt64?) {
        var pause: UInt32 = 100  // microseconds, doubled up to 5 ms
        while ProcessStat.isRunning(pid: pid, startTime: startTime) {
            // Unreadable: a zombie, with nothing more to execute.
            guard let executable = readLink("/proc/\(pid)/exe"), executable.hasPrefix(initExecutable) else { return }
            usleep(pause)
            pause = min(pause * 2, 5000)
        }
    }
}
