// SPDX-License-Identifier: Apache-2.0
import Glibc

/// A file's bytes.
public func readFile(_ path: String, relativeTo directory: Int32 = AT_FDCWD) throws(SystemError) -> [UInt8] {
    let descriptor = openat(directory, path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw SystemError("reading \(path)", errno: errno) }
    let file = FileDescriptor(adopting: descriptor)
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(file.rawValue, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw SystemError("reading \(path)", errno: errno)
        }
        if n == 0 { return result }
        result.append(contentsOf: chunk[..<n])
    }
}

/// Writes `bytes` to a new or truncated file at `path`.
public func writeFile(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644, exclusive: Bool = false) throws(SystemError) {
    let file = try FileDescriptor(opening: path, O_WRONLY | O_CREAT | (exclusive ? O_EXCL : O_TRUNC), mode: mode, step: "writing \(path)")
    try file.write(bytes, step: "writing \(path)")
}

/// Replaces the file `name` (relative to the directory open at `directory`, or a path) with
/// `bytes` atomically: a temporary file beside it, renamed over it. A reader sees the old file
/// or the new one, never part of one; a writer killed half way leaves the old one.
public func writeAtomically(
    _ bytes: [UInt8], to name: String, inDirectory directory: Int32 = AT_FDCWD,
    mode: mode_t = 0o644
) throws(SystemError) {
    let base = directory
    let temporary = name + ".\(getpid()).tmp"
    let fd = openat(base, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw SystemError("writing \(temporary)", errno: errno) }
    do throws(SystemError) {
        try FileDescriptor(adopting: fd).write(bytes, step: "writing \(temporary)")
        try checked(renameat(base, temporary, base, name), "replacing \(name)")
    } catch {
        unlinkat(base, temporary, 0)
        throw error
    }
}

/// mkdir -p: makes every missing directory of `path`; returns those it made, outermost
/// first. The leaf is tried first: its parents almost always exist.
public func makeDirectories(_ path: String, mode: mode_t = 0o755, relativeTo directory: Int32 = AT_FDCWD) throws(SystemError) -> [String] {
    if mkdirat(directory, path, mode) == 0 { return [path] }
    switch errno {
    case EEXIST:
        return []
    case ENOENT:
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { throw SystemError("creating \(path)", errno: ENOENT) }
        let made = try makeDirectories(String(path[..<slash]), mode: mode, relativeTo: directory)
        guard mkdirat(directory, path, mode) == 0 || errno == EEXIST else { throw SystemError("creating \(path)", errno: errno) }
        return made + [path]
    default:
        throw SystemError("creating \(path)", errno: errno)
    }
}

/// The names in a directory, without "." and ".." (empty if it cannot be read); with
/// `directoriesOnly`, only its subdirectories, by the entry type readdir reports.
public func listDirectory(_ path: String, directoriesOnly: Bool = false, relativeTo directory: Int32 = AT_FDCWD) -> [String] {
    let descriptor = openat(directory, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return [] }
    guard let listing = fdopendir(descriptor) else {
        close(descriptor)
        return []
    }
    defer { closedir(listing) }
    var names: [String] = []
    while let entry = readdir(listing) {
        if directoriesOnly && entry.pointee.d_type != UInt8(DT_DIR) { continue }
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

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
