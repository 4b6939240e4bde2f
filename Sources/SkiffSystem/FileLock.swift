// SPDX-License-Identifier: Apache-2.0
import Glibc

/// An flock(2) held on an open file for as long as this value lives: the lock goes with the
/// descriptor, so no path can leave it taken. The only way skiff holds a lock outside this
/// module.
public struct FileLock: ~Copyable {
    public enum Mode: Sendable {
        case shared, exclusive

        var operation: Int32 { self == .shared ? LOCK_SH : LOCK_EX }
    }

    public let descriptor: FileDescriptor

    /// Takes the lock on `descriptor`, waiting for its holder (EINTR is retried).
    public init(_ descriptor: consuming FileDescriptor, _ mode: Mode, step: @autoclosure () -> String) throws(SystemError) {
        while flock(descriptor.rawValue, mode.operation) != 0 {
            guard errno == EINTR else { throw SystemError(step(), errno: errno) }
        }
        self.descriptor = descriptor
    }

    /// Opens `path` (a directory or a file, read-only unless `flags` say otherwise) and locks it.
    public init(path: String, flags: Int32 = O_RDONLY, mode: Mode, step: @autoclosure () -> String) throws(SystemError) {
        let opened = try FileDescriptor(opening: path, flags, mode: 0o600, step: step())
        try self.init(opened, mode, step: step())
    }

    private init(holding descriptor: consuming FileDescriptor) { self.descriptor = descriptor }

    /// The lock if nobody else holds a conflicting one now; nil if somebody does (EWOULDBLOCK).
    public static func attempt(_ descriptor: consuming FileDescriptor, _ mode: Mode, step: @autoclosure () -> String) throws(SystemError) -> FileLock? {
        while flock(descriptor.rawValue, mode.operation | LOCK_NB) != 0 {
            if errno == EWOULDBLOCK { return nil }
            guard errno == EINTR else { throw SystemError(step(), errno: errno) }
        }
        return FileLock(holding: descriptor)
    }

    /// Whether somebody holds a lock on `descriptor` that conflicts with `mode` now (the lock
    /// this takes to find out goes at once).
    public static func isHeld(_ descriptor: consuming FileDescriptor, against mode: Mode) -> Bool {
        while flock(descriptor.rawValue, mode.operation | LOCK_NB) != 0 {
            if errno != EINTR { return errno == EWOULDBLOCK }
        }
        return false
    }

    public var rawValue: Int32 { descriptor.rawValue }

    /// Gives the lock up now (closing the descriptor) rather than when the value goes.
    public consuming func unlock() {}
}
