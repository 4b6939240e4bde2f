import Glibc

/// Where the symbolic link at `path` points (nil if it is none, or unreadable).
public func readLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink(path, &buffer, buffer.count - 1)
    return n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
}

/// A namespace file's name as /proc shows it ("net:[4026531833]"): the link text of a
/// /proc/PID/ns entry, or `kind` and the inode of a bind-mounted one (`ip netns`).
public func namespaceName(at path: String, kind: String) -> String? {
    if let name = readLink(path) { return name }
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return "\(kind):[\(st.st_ino)]"
}

/// A file's bytes, with the errno text on failure.
public func readFile(_ path: String) throws(SystemErrorText) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemErrorText(errno: errno) }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw SystemErrorText(errno: errno)
        }
        if n == 0 { return result }
        result.append(contentsOf: chunk[..<n])
    }
}

public struct SystemErrorText: Error, CustomStringConvertible {
    public var errno: Int32
    public var description: String { String(cString: strerror(errno)).lowercasedFirst }
}

extension String {
    var lowercasedFirst: String { prefix(1).lowercased() + dropFirst() }
}
