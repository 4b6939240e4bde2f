// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec
import SkiffSystem

enum UnixSocket {
    /// A connected AF_UNIX stream socket to `path` (close-on-exec); `field` names the config
    /// field or flag it came from, for errors.
    static func connect(_ path: String, field: String) throws(RuntimeError) -> FileDescriptor {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw .spec(SpecError(field, "longer than \(capacity - 1) bytes")) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let socket = try systemStep { () throws(SystemError) in
            try FileDescriptor(checking: Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), step: "creating a socket for \(field)")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw .usage(SystemError("\(field) \(path)", errno: errno).description) }
        return socket
    }
}
