import CShims
import Glibc
import SkiffSpec

/// Hands the seccomp notify descriptor to `linux.seccomp.listenerPath`, as runc does: one
/// message on a connected AF_UNIX stream socket carrying the container process state (JSON:
/// ociVersion, fds ["seccompFd"], pid, metadata, state) with the descriptor by SCM_RIGHTS.
enum SeccompListener {
    static func send(_ listener: Int32, to path: String, metadata: String?, state: JSONValue) throws(RuntimeError) {
        let pid: JSONValue = { if case .object(let members) = state { return members.first { $0.0 == "pid" }?.1 ?? .number("0") }; return .number("0") }()
        let message = JSONValue.object([
            ("ociVersion", .string("1.2.0")), ("fds", .array([.string("seccompFd")])), ("pid", pid),
            ("metadata", .string(metadata ?? "")), ("state", state),
        ]).serializedBytes()
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try check(sock, "creating a socket for linux.seccomp.listenerPath")
        defer { close(sock) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw .spec(SpecError("linux.seccomp.listenerPath", "longer than \(capacity - 1) bytes")) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw .system("connecting to linux.seccomp.listenerPath \(path)", errno) }
        var fds = [listener]
        let sent = message.withUnsafeBytes { bytes in
            fds.withUnsafeMutableBufferPointer { skiff_send_message(sock, bytes.baseAddress, bytes.count, $0.baseAddress, 1) }
        }
        try check(sent, "sending the seccomp listener to \(path)")
    }
}
