// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSystem

/// A connection to a D-Bus bus (or to systemd's private socket, peer to peer): SASL EXTERNAL
/// authentication as the caller's uid, method calls awaited by serial, and signals kept for
/// whoever waits for them. No library: skiff stays one static binary (the protocol is small).
public final class DBusConnection {
    private let socket: FileDescriptor
    private var serial: UInt32 = 0
    private var input: [UInt8] = []
    private var signals: [DBusMessage] = []
    /// Peer to peer (systemd's private socket): no bus daemon, so no Hello and no match rules.
    public let peerToPeer: Bool

    /// Connects to `path` and authenticates.
    public init(path: String, peerToPeer: Bool = false) throws(SystemError) {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("opening a socket for \(path)", errno: errno) }
        socket = FileDescriptor(adopting: fd)
        self.peerToPeer = peerToPeer
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw SystemError("connecting to \(path)", errno: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw SystemError("connecting to \(path)", errno: errno) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        try authenticate(path)
        if !peerToPeer {
            _ = try call(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "Hello")
        }
    }

    /// SASL EXTERNAL: the kernel tells the bus our uid; we say which uid we claim to be — the
    /// node's uid for us, which is what a peer outside our user namespace is told.
    private func authenticate(_ path: String) throws(SystemError) {
        let uid = String(Rootless.nodeUID).utf8.map { String($0, radix: 16) }.joined()
        try send(Array("\0AUTH EXTERNAL \(uid)\r\n".utf8), step: "authenticating to \(path)")
        var line: [UInt8] = []
        while !(line.count >= 2 && line.suffix(2) == [13, 10]) {
            var byte: UInt8 = 0
            let n = read(socket.rawValue, &byte, 1)
            if n < 0, errno == EINTR { continue }
            guard n == 1 else { throw SystemError("authenticating to \(path)", errno: n < 0 ? errno : ECONNRESET) }
            line.append(byte)
        }
        guard line.starts(with: Array("OK ".utf8)) else {
            throw SystemError("authenticating to \(path)", errno: EACCES, detail: String(decoding: line.dropLast(2), as: UTF8.self))
        }
        try send(Array("BEGIN\r\n".utf8), step: "authenticating to \(path)")
    }

    private func send(_ bytes: [UInt8], step: @autoclosure () -> String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(socket.rawValue, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(step(), errno: errno)
            }
            offset += n
        }
    }

    /// The next message from the bus, waiting up to `timeout` milliseconds.
    private func receive(timeout: Int32, step: String) throws(SystemError) -> DBusMessage {
        while true {
            if let length = DBusMessage.length(of: input[...]), input.count >= length {
                let message = DBusMessage(parsing: input[..<length])
                input.removeFirst(length)
                guard let message else { throw SystemError(step, errno: EPROTO, detail: "a message skiff cannot read") }
                return message
            }
            var ready = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, timeout)
            if polled < 0, errno == EINTR { continue }
            guard polled > 0 else { throw SystemError(step, errno: polled == 0 ? ETIMEDOUT : errno) }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(socket.rawValue, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw SystemError(step, errno: n < 0 ? errno : ECONNRESET) }
            input += chunk[..<n]
        }
    }

    /// Calls a method and returns its reply; a D-Bus error comes back as a `SystemError` whose
    /// detail is the error's name and text.
    @discardableResult
    public func call(
        destination: String, path: String, interface: String, member: String, _ arguments: [DBusValue] = [],
        timeout: Int32 = 30_000
    ) throws(SystemError) -> DBusMessage {
        serial += 1
        let message = DBusMessage.call(serial: serial, destination: destination, path: path, interface: interface, member: member, arguments)
        let step = "\(interface).\(member)"
        try send(message.encoded, step: step)
        while true {
            let reply = try receive(timeout: timeout, step: step)
            switch reply.kind {
            case .signal: signals.append(reply)
            case .methodReturn where reply.replySerial == serial: return reply
            case .error where reply.replySerial == serial:
                let text = reply.bodyValues.first.flatMap { if case .string(let s) = $0 { s } else { nil } } ?? ""
                throw SystemError(step, errno: EIO, detail: "\(reply.errorName ?? "error"): \(text)")
            default: continue
            }
        }
    }

    /// Waits for a signal `matching` (one that came already counts), up to `timeout` ms.
    public func waitForSignal(timeout: Int32 = 30_000, step: String, matching: (DBusMessage) -> Bool) throws(SystemError) -> DBusMessage {
        if let index = signals.firstIndex(where: matching) { return signals.remove(at: index) }
        let clock = Stopwatch()
        while true {
            let left = Int32(max(0, Double(timeout) - clock.milliseconds))
            guard left > 0 else { throw SystemError(step, errno: ETIMEDOUT) }
            let message = try receive(timeout: left, step: step)
            if message.kind == .signal {
                if matching(message) { return message }
                signals.append(message)
            }
        }
    }
}
