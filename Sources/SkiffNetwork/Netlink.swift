// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSystem

/// A netlink message being built: header, the family's fixed header, then attributes
/// (type-length-value, 4-byte aligned, nestable). Integers are in host order unless a
/// `bigEndian` variant is used (nf_tables wants network order).
struct NetlinkMessage {
    private(set) var bytes: [UInt8]
    let wantsAck: Bool

    init(type: UInt16, flags: Int, fixed: [UInt8] = []) {
        bytes = [UInt8](repeating: 0, count: 16)
        wantsAck = flags & SKIFF_NLM_F_ACK != 0
        store(UInt16(type), at: 4)
        store(UInt16(flags | Int(SKIFF_NLM_F_REQUEST)), at: 6)
        bytes += fixed
        pad()
    }

    mutating func put(_ type: UInt16, _ payload: [UInt8]) {
        let start = bytes.count
        bytes += [0, 0, 0, 0]
        bytes += payload
        store(UInt16(4 + payload.count), at: start)
        store(type, at: start + 2)
        pad()
    }

    mutating func put(_ type: UInt16, string: String) { put(type, Array(string.utf8) + [0]) }
    mutating func put(_ type: UInt16, u32: UInt32) { put(type, Self.bytes(of: u32)) }
    mutating func put(_ type: UInt16, bigEndian value: UInt32) { put(type, Self.bytes(of: value.bigEndian)) }
    mutating func put(_ type: UInt16, bigEndian value: Int32) { put(type, bigEndian: UInt32(bitPattern: value)) }

    /// An attribute whose payload is more attributes.
    mutating func nest(_ type: UInt16, _ body: (inout NetlinkMessage) -> Void) {
        let start = bytes.count
        bytes += [0, 0, 0, 0]
        body(&self)
        store(UInt16(bytes.count - start), at: start)
        store(type | UInt16(SKIFF_NLA_F_NESTED), at: start + 2)
    }

    /// Bytes with no attribute header (a nested fixed header, such as a veth peer's ifinfomsg).
    mutating func appendRaw(_ raw: [UInt8]) {
        bytes += raw
        pad()
    }

    mutating func finish(sequence: UInt32) {
        store(UInt32(bytes.count), at: 0)
        store(sequence, at: 8)
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    private mutating func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value) { raw in
            for (i, byte) in raw.enumerated() { bytes[offset + i] = byte }
        }
    }

    static func bytes<T: FixedWidthInteger>(of value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
}

/// A reply from the kernel: its type and the bytes after the netlink header.
struct NetlinkReply {
    var type: UInt16
    var payload: ArraySlice<UInt8>

    /// The attributes after a fixed header of `fixedLength` bytes.
    func attributes(after fixedLength: Int) -> [UInt16: ArraySlice<UInt8>] {
        var result: [UInt16: ArraySlice<UInt8>] = [:]
        var offset = payload.startIndex + fixedLength
        while offset + 4 <= payload.endIndex {
            let length = Int(payload[offset]) | Int(payload[offset + 1]) << 8
            let type = (UInt16(payload[offset + 2]) | UInt16(payload[offset + 3]) << 8) & 0x3fff
            guard length >= 4, offset + length <= payload.endIndex else { break }
            result[type] = payload[(offset + 4)..<(offset + length)]
            offset += (length + 3) & ~3
        }
        return result
    }

    func int32(at offset: Int) -> Int32 {
        var value: Int32 = 0
        withUnsafeMutableBytes(of: &value) { raw in
            for i in 0..<4 { raw[i] = payload[payload.startIndex + offset + i] }
        }
        return value
    }
}

/// One netlink socket (rtnetlink or nfnetlink), in this network namespace or another's.
/// Every request asks for an acknowledgement, so each failure comes back with its errno
/// (and, with extended acks, the kernel's explanation).
struct NetlinkSocket: ~Copyable {
    private let descriptor: FileDescriptor
    var fd: Int32 { descriptor.rawValue }
    private var sequence: UInt32

    /// `groups`: the multicast groups (a bit mask, RTMGRP_*) whose events it also receives.
    init(protocol netlinkProtocol: Int32, namespace: Int32? = nil, groups: UInt32 = 0) throws(NetworkError) {
        let fd =
            namespace.map { skiff_netlink_socket_in($0, netlinkProtocol) }
            ?? socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkProtocol)
        guard fd >= 0 else { throw .system(step: "opening a netlink socket", errno: errno) }
        if groups != 0 {
            var address = sockaddr_nl()
            address.nl_family = sa_family_t(AF_NETLINK)
            address.nl_groups = groups
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
            }
            guard bound == 0 else {
                let saved = errno
                close(fd)
                throw .system(step: "subscribing to the kernel's netlink events", errno: saved)
            }
        }
        var on: Int32 = 1
        // Short acks (no echo of our request) with the kernel's error text.
        setsockopt(fd, SOL_NETLINK, Int32(SKIFF_NETLINK_CAP_ACK), &on, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_NETLINK, Int32(SKIFF_NETLINK_EXT_ACK), &on, socklen_t(MemoryLayout<Int32>.size))
        // A kernel that never answers must not hang create or delete.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        descriptor = FileDescriptor(adopting: fd)
        var seed = timespec()
        clock_gettime(CLOCK_MONOTONIC, &seed)
        sequence = UInt32(truncatingIfNeeded: seed.tv_nsec)
    }

    /// Sends `messages` in one datagram and waits for every acknowledgement. Returns the
    /// data replies (for GET requests). Throws the first error, as `step` failing.
    mutating func perform(_ messages: [NetlinkMessage], step: String) throws(NetworkError) -> [NetlinkReply] {
        let request = prepare(messages)
        let sent = request.datagram.withUnsafeBytes { buffer in
            var address = sockaddr_nl()
            address.nl_family = sa_family_t(AF_NETLINK)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                }
            }
        }
        guard sent == request.datagram.count else { throw .system(step: step, errno: sent < 0 ? errno : EMSGSIZE) }
        return try receive(request.awaited, step: step)
    }

    /// A datagram of numbered messages, and the numbers whose acknowledgements to wait for.
    struct Request {
        var datagram: [UInt8]
        var awaited: Set<UInt32>
    }

    /// Numbers `messages` and sizes the socket's buffers for them: the datagram can then be
    /// sent by whichever process holds the socket (see `TaskRulesChannel`), and the answers
    /// read here with `receive`.
    mutating func prepare(_ messages: [NetlinkMessage]) -> Request {
        var request = Request(datagram: [], awaited: [])
        for var message in messages {
            sequence &+= 1
            message.finish(sequence: sequence)
            if message.wantsAck { request.awaited.insert(sequence) }
            request.datagram += message.bytes
        }
        // A batch is one datagram (nftables takes a transaction only whole), and every message
        // in it is acknowledged: size both buffers for it, as libmnl's users do (the FORCE
        // variants pass the system limits, which a root-only runtime may).
        Self.reserve(SO_SNDBUFFORCE, SO_SNDBUF, bytes: request.datagram.count + 4096, on: fd)
        // Each acknowledgement is a buffer of its own: about 1 KiB of the receive budget.
        Self.reserve(SO_RCVBUFFORCE, SO_RCVBUF, bytes: 64 * 1024 + request.awaited.count * 1024, on: fd)
        return request
    }

    /// Waits for the acknowledgement of every message in `awaited`; the data replies.
    func receive(_ awaited: Set<UInt32>, step: String) throws(NetworkError) -> [NetlinkReply] {
        var awaited = awaited
        let awaitedFirst = awaited.min()
        var replies: [NetlinkReply] = []
        var failure: NetworkError?
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !awaited.isEmpty {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(step: step, errno: errno == EAGAIN ? ETIMEDOUT : errno, detail: "waiting for the kernel's answer")
            }
            for (flags, seq, reply) in Self.messages(in: buffer[0..<n]) {
                let type = reply.type
                if type == UInt16(SKIFF_NLMSG_ERROR) {
                    awaited.remove(seq)
                    let code = reply.int32(at: 0)
                    if code != 0, failure == nil {
                        // Extended ack: the kernel's message follows the (capped) request header.
                        let words = (flags & 0x200 != 0) ? reply.attributes(after: 20)[UInt16(SKIFF_NLMSGERR_ATTR_MSG)] : nil
                        var detail = words.map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } ?? ""
                        // The refused request's own header follows the error code: its type
                        // and number say which message of a batch it was.
                        if reply.payload.count >= 20 {
                            let refused = reply.payload.startIndex + 4
                            let type = UInt16(reply.payload[refused + 4]) | UInt16(reply.payload[refused + 5]) << 8
                            let number = seq &- (awaitedFirst ?? seq) &+ 1
                            detail += (detail.isEmpty ? "" : "; ") + "message \(number) (type 0x\(String(type, radix: 16)))"
                        }
                        failure = .system(step: step, errno: -code, detail: detail)
                    }
                } else if type == UInt16(SKIFF_NLMSG_DONE) {
                    // The end of a dump (which is never acknowledged otherwise), with its error.
                    awaited.remove(seq)
                    let code = reply.payload.count >= 4 ? reply.int32(at: 0) : 0
                    if code != 0, failure == nil { failure = .system(step: step, errno: -code) }
                } else {
                    replies.append(reply)
                }
            }
        }
        if let failure { throw failure }
        return replies
    }

    /// The messages of one datagram: each one's flags, sequence number and reply.
    static func messages(in datagram: ArraySlice<UInt8>) -> [(flags: UInt16, sequence: UInt32, reply: NetlinkReply)] {
        var found: [(UInt16, UInt32, NetlinkReply)] = []
        var offset = datagram.startIndex
        func u16(_ at: Int) -> UInt16 { UInt16(datagram[at]) | UInt16(datagram[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        while offset + 16 <= datagram.endIndex {
            let length = Int(u32(offset))
            guard length >= 16, offset + length <= datagram.endIndex else { break }
            found.append((u16(offset + 6), u32(offset + 8), NetlinkReply(type: u16(offset + 4), payload: datagram[(offset + 16)..<(offset + length)])))
            offset += (length + 3) & ~3
        }
        return found
    }

    /// The messages waiting on the socket now (events of its groups), without blocking: empty
    /// when there are none.
    func pendingMessages(step: String) throws(NetworkError) -> [NetlinkReply] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var found: [NetlinkReply] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { return found }
                throw .system(step: step, errno: errno, detail: "reading the kernel's events")
            }
            found += Self.messages(in: buffer[0..<n]).map(\.reply)
        }
    }
}

extension NetlinkSocket {
    /// Raises a socket buffer to at least `bytes` (the kernel doubles what it is given).
    static func reserve(_ forced: Int32, _ plain: Int32, bytes: Int, on fd: Int32) {
        var current: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, plain, &current, &length) == 0, Int(current) >= bytes { return }
        var wanted = Int32(clamping: bytes)
        if setsockopt(fd, SOL_SOCKET, forced, &wanted, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            setsockopt(fd, SOL_SOCKET, plain, &wanted, socklen_t(MemoryLayout<Int32>.size))
        }
    }
}

// The kernel's named enums (nft_*_attributes, ...) import as structs with a raw value;
// these let `UInt16(NFTA_TABLE_NAME)` read like the C it mirrors.
extension UInt16 {
    init<T: RawRepresentable>(_ value: T) where T.RawValue: BinaryInteger { self.init(value.rawValue) }
}

extension UInt32 {
    init<T: RawRepresentable>(_ value: T) where T.RawValue: BinaryInteger { self.init(value.rawValue) }
}
