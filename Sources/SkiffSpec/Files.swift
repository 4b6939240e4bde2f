import Glibc

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
