import Glibc

/// A cgroup operation that failed: what was being done, on which file, and why.
public struct CgroupError: Error, CustomStringConvertible, Sendable {
    public var action: String
    public var path: String
    public var errno: Int32?
    public var reason: String?

    public init(_ action: String, path: String, errno: Int32? = nil, reason: String? = nil) {
        self.action = action
        self.path = path
        self.errno = errno
        self.reason = reason
    }

    public var description: String {
        let why = reason ?? errno.map { String(cString: strerror($0)) } ?? "failed"
        return "\(action) \(path): \(why)"
    }
}
