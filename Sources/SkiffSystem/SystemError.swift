// SPDX-License-Identifier: Apache-2.0
import Glibc

/// A system call that failed: the step skiff was taking, the kernel's errno, and what more
/// there is to say (the kernel's own words for netlink, a hint). Every module's error that
/// carries an errno embeds one, so it prints the same way everywhere:
/// `creating /run/skiff/x: Permission denied (detail)`.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public var step: String
    public var errno: Int32
    public var detail: String?

    public init(_ step: String, errno: Int32, detail: String? = nil) {
        self.step = step
        self.errno = errno
        self.detail = detail
    }

    /// The errno's text, lowercased as it reads inside a sentence ("no such file or directory").
    public var reason: String { Self.text(of: errno).lowercasedFirst }

    /// The kernel's words for `code` ("No such file or directory"): the one place skiff asks
    /// strerror.
    public static func text(of code: Int32) -> String { String(cString: strerror(code)) }

    /// `step: errno text (detail)`; without an errno (a failure skiff found itself, errno 0),
    /// `step: detail`.
    public var description: String {
        let detail = self.detail.flatMap { $0.isEmpty ? nil : $0 }
        if errno == 0 { return "\(step): \(detail ?? "failed")" }
        let text = Self.text(of: errno)
        let said = step.isEmpty ? text : "\(step): \(text)"
        return detail.map { "\(said) (\($0))" } ?? said
    }
}

/// Checks a syscall-style result (-1 and errno): the result, or a `SystemError` for `step`.
@discardableResult
public func checked<T: BinaryInteger>(_ result: T, _ step: @autoclosure () -> String) throws(SystemError) -> T {
    if result < 0 { throw SystemError(step(), errno: errno) }
    return result
}
