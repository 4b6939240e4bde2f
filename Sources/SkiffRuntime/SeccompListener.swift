// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// Hands the seccomp notify descriptor to `linux.seccomp.listenerPath`, as runc does: one
/// message on a connected AF_UNIX stream socket carrying the container process state (JSON:
/// ociVersion, fds ["seccompFd"], pid, metadata, state) with the descriptor by SCM_RIGHTS.
enum SeccompListener {
    static func send(_ listener: Int32, to path: String, metadata: String?, state: JSONValue) throws(RuntimeError) {
        let pid: JSONValue = {
            if case .object(let members) = state { return members.first { $0.0 == "pid" }?.1 ?? .number("0") }
            return .number("0")
        }()
        let message = JSONValue.object([
            ("ociVersion", .string(Spec.version)), ("fds", .array([.string("seccompFd")])), ("pid", pid),
            ("metadata", .string(metadata ?? "")), ("state", state),
        ]).serializedBytes()
        let socket = try UnixSocket.connect(path, field: "linux.seccomp.listenerPath")
        var fds = [listener]
        let sent = message.withUnsafeBytes { bytes in
            fds.withUnsafeMutableBufferPointer { skiff_send_message(socket.rawValue, bytes.baseAddress, bytes.count, $0.baseAddress, 1) }
        }
        if sent < 0 { throw .system("sending the seccomp listener to \(path)", errno) }
    }
}
