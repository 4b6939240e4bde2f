// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSystem

extension Runtime {
    /// Waits for a container this process created to exit, and reaps it: an embedding
    /// scheduler is the parent of its containers' first processes. Returns the exit status
    /// (128+N for signal N), or nil when the process is not this process's child.
    public func waitForExit(id: String) throws(RuntimeError) -> Int32? {
        let id = try ContainerID(id)
        guard let record = try store.read(id), record.pid > 0 else { return nil }
        var status: Int32 = 0
        while true {
            let reaped = waitpid(record.pid, &status, 0)
            if reaped == record.pid { return Subprocess.exitCode(status) }
            if reaped < 0 && errno == EINTR { continue }
            return nil
        }
    }
}
