// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Just enough of containerd's shim API to send `Task.Update`, the call containerd makes
/// for a resource update (Debian's ctr 1.6 has no `update`): ttrpc over the shim's unix
/// socket, with protobuf written by hand. The shim turns it into `<runtime> update
/// --resources -` with the resources as JSON on stdin.
struct ShimClient {
    /// The shim's socket, from the `address` file containerd keeps for the task.
    let socketPath: String

    init?(state: String, namespace: String = "default", id: String) {
        let file = "\(state)/io.containerd.runtime.v2.task/\(namespace)/\(id)/address"
        guard let address = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        let trimmed = address.trimmingCharacters(in: .whitespacesAndNewlines)
        socketPath = trimmed.hasPrefix("unix://") ? String(trimmed.dropFirst(7)) : trimmed
    }

    /// Update the task's resources (a runtime-spec LinuxResources as JSON). Returns nil on
    /// success, else the shim's error message.
    func update(id: String, resourcesJSON: String) throws -> String? {
        let any = Self.field(1, "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources") + Self.field(2, Array(resourcesJSON.utf8))
        let updateRequest = Self.field(1, id) + Self.field(2, any)
        let request = Self.field(1, "containerd.task.v2.Task") + Self.field(2, "Update") + Self.field(3, updateRequest)
        let response = try exchange(request)
        // Response { Status status = 1; bytes payload = 2; }, Status { int32 code = 1; string message = 2; }
        guard let status = Self.fields(response)[1] else { return nil }
        let parts = Self.fields(status)
        if parts[1] == nil || parts[1] == [0] { return nil }
        return String(decoding: parts[2] ?? [], as: UTF8.self)
    }

    /// One ttrpc request on stream 1: a 10-byte header (length, stream id, type 1, flags 0),
    /// then the protobuf; the answer has type 2.
    private func exchange(_ payload: [UInt8]) throws -> [UInt8] {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in socketPath.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let message = Self.bigEndian(UInt32(payload.count)) + Self.bigEndian(UInt32(1)) + [1, 0] + payload
        guard message.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == message.count else { throw POSIXError(.EIO) }
        let header = try receive(fd, 10)
        let length = header[0..<4].reduce(0) { $0 << 8 | Int($1) }
        return try receive(fd, length)
    }

    private func receive(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            guard n > 0 else { throw POSIXError(.init(rawValue: n < 0 ? errno : ECONNRESET) ?? .EIO) }
            got += n
        }
        return bytes
    }

    // MARK: protobuf, by hand

    static func varint(_ value: Int) -> [UInt8] {
        var value = UInt64(value), bytes: [UInt8] = []
        repeat {
            bytes.append(UInt8(value & 0x7f) | (value > 0x7f ? 0x80 : 0))
            value >>= 7
        } while value > 0
        return bytes
    }

    /// A length-delimited field (wire type 2).
    static func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(bytes.count) + bytes }
    static func field(_ number: Int, _ text: String) -> [UInt8] { field(number, Array(text.utf8)) }

    /// The fields of a message, by number (varints as their bytes, lengths as their payload).
    static func fields(_ bytes: [UInt8]) -> [Int: [UInt8]] {
        var result: [Int: [UInt8]] = [:]
        var i = 0
        func readVarint() -> Int {
            var value = 0, shift = 0
            while i < bytes.count {
                let byte = bytes[i]
                i += 1
                value |= Int(byte & 0x7f) << shift
                shift += 7
                if byte & 0x80 == 0 { break }
            }
            return value
        }
        while i < bytes.count {
            let key = readVarint()
            switch key & 7 {
            case 0: result[key >> 3] = [UInt8(truncatingIfNeeded: readVarint())]
            case 2:
                let length = readVarint()
                result[key >> 3] = Array(bytes[i..<min(bytes.count, i + length)])
                i += length
            default: return result
            }
        }
        return result
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
}
