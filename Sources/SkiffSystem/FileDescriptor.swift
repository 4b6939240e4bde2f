// SPDX-License-Identifier: Apache-2.0
import Glibc

/// An open file descriptor that is closed exactly once, when its owner is done with it: it
/// cannot be copied, only moved or given up (`release`) to a call that takes ownership.
public struct FileDescriptor: ~Copyable {
    public let rawValue: Int32

    /// Takes ownership of `rawValue` (which must be open).
    public init(adopting rawValue: Int32) { self.rawValue = rawValue }

    /// Takes ownership of what a call returned, or throws its errno for `step` (-1).
    public init(checking result: Int32, step: @autoclosure () -> String) throws(SystemError) {
        guard result >= 0 else { throw SystemError(step(), errno: errno) }
        rawValue = result
    }

    /// open(2), close-on-exec.
    public init(opening path: String, _ flags: Int32, mode: mode_t = 0, step: @autoclosure () -> String) throws(SystemError) {
        let fd = open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError(step(), errno: errno) }
        rawValue = fd
    }

    /// openat(2) relative to `directory`, close-on-exec.
    public init(
        opening name: String, in directory: borrowing FileDescriptor, _ flags: Int32, mode: mode_t = 0,
        step: @autoclosure () -> String
    ) throws(SystemError) {
        let fd = openat(directory.rawValue, name, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError(step(), errno: errno) }
        rawValue = fd
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8], step: @autoclosure () -> String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(rawValue, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(step(), errno: errno)
            }
            offset += n
        }
    }

    /// Gives the descriptor up without closing it; the caller owns it now.
    public consuming func release() -> Int32 {
        let fd = rawValue
        discard self
        return fd
    }

    deinit { close(rawValue) }
}

/// Both ends of a socketpair(2), each owned.
@frozen public struct SocketPair: ~Copyable {
    public var ours: FileDescriptor
    public var theirs: FileDescriptor

    /// An AF_UNIX pair of `type`, close-on-exec.
    public init(_ type: Int32, step: @autoclosure () -> String) throws(SystemError) {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else { throw SystemError(step(), errno: errno) }
        ours = FileDescriptor(adopting: pair[0])
        theirs = FileDescriptor(adopting: pair[1])
    }
}

/// A descriptor shared by several owners (a plan's descriptor table, a process's pidfd kept by
/// a record): closed when the last reference goes.
public final class SharedDescriptor: Sendable {
    public let rawValue: Int32

    public init(_ descriptor: consuming FileDescriptor) { rawValue = descriptor.release() }

    deinit { close(rawValue) }
}
