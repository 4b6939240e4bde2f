// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSystem

/// `--pidfd-socket` (runc 1.3, on create, run and exec): the new process's pidfd sent over an
/// AF_UNIX socket by SCM_RIGHTS, as containerd's shim receives it, so the caller can signal
/// and wait for exactly that process however its pid is reused. The message is the name
/// "pidfd" (runc sends the descriptor's file name with it). The socket is connected before
/// anything is made: a path nobody listens on is a one-line error with nothing left.
struct PidfdSocket: ~Copyable {
    private let socket: FileDescriptor
    private let path: String

    init?(_ path: String?) throws(RuntimeError) {
        guard let path else { return nil }
        socket = try UnixSocket.connect(path, field: "--pidfd-socket")
        self.path = path
    }

    /// Sends `process`'s pidfd (one opened now if the launch kept none).
    func send(_ process: LaunchedProcess) throws(RuntimeError) {
        if let pidfd = process.pidfd { return try send(pidfd.rawValue, of: process.pid) }
        let opened = try systemStep { () throws(SystemError) in
            try FileDescriptor(checking: skiff_pidfd_open(process.pid), step: "opening a pidfd of process \(process.pid)")
        }
        try send(opened.rawValue, of: process.pid)
    }

    private func send(_ pidfd: Int32, of pid: Int32) throws(RuntimeError) {
        let name = Array("pidfd".utf8), fds = [pidfd]
        let sent = name.withUnsafeBufferPointer { bytes in
            fds.withUnsafeBufferPointer { skiff_send_message(socket.rawValue, bytes.baseAddress, bytes.count, $0.baseAddress, 1) }
        }
        if sent < 0 { throw .system("sending the pidfd of process \(pid) to --pidfd-socket \(path)", errno) }
    }
}
