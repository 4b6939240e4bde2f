import Glibc

/// An open file descriptor that is closed exactly once, when its owner is done with it: it
/// cannot be copied, only moved or given up (`release`) to a call that takes ownership.
public struct FileDescriptor: ~Copyable {
    public let rawValue: Int32

    /// Takes ownership of `rawValue` (which must be open).
    public init(adopting rawValue: Int32) { self.rawValue = rawValue }

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
