// SPDX-License-Identifier: Apache-2.0
import SkiffSystem

/// A cgroup operation that failed: what was being done, on which file, and why (the errno
/// of the system call, and more where there is more to say).
public struct CgroupError: Error, CustomStringConvertible, Sendable {
    public var failure: SystemError

    /// The errno, when a system call failed (nil for a failure skiff itself found).
    public var errno: Int32? { failure.errno == 0 ? nil : failure.errno }

    public init(_ action: String, path: String, errno: Int32? = nil, reason: String? = nil) {
        failure = SystemError("\(action) \(path)", errno: errno ?? 0, detail: reason)
    }

    public init(_ failure: SystemError) { self.failure = failure }

    public var description: String { failure.description }
}
