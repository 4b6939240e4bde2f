import CShims
import Glibc
import SkiffSpec

/// Compiled filters by a hash of their section, so the same profile (every container of a
/// scheduler usually has the same one) is compiled once. Files are complete or absent: each
/// is written unnamed (O_TMPFILE) and linked in place, so a killed `create` leaves nothing.
public struct SeccompCache: Sendable {
    public let directory: String

    public init(root: String) { directory = root + "/.seccomp" }

    /// A read-only descriptor of the compiled program for `section`, compiling it if needed.
    public func open(_ section: Spec.Seccomp) throws(SpecError) -> Int32 {
        let path = directory + "/" + Self.key(section) + ".bpf"
        let cached = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if cached >= 0 { return cached }
        let program = try SeccompCompiler.compile(section)
        mkdir(directory, 0o700)
        let fd = skiff_open_tmpfile(directory)
        let fallback = fd < 0 ? skiff_memfd("seccomp") : fd
        guard fallback >= 0 else { throw SpecError("linux.seccomp", "storing the compiled filter: \(String(cString: strerror(errno)))") }
        let written = program.withUnsafeBytes { write(fallback, $0.baseAddress, $0.count) }
        guard written == program.count else {
            close(fallback)
            throw SpecError("linux.seccomp", "storing the compiled filter: \(String(cString: strerror(errno)))")
        }
        if fd >= 0 { _ = skiff_link_tmpfile(fd, path) }  // EEXIST: another create was first
        return fallback
    }

    /// FNV-1a of the section's JSON and the libseccomp version (a newer libseccomp may
    /// compile the same section differently).
    static func key(_ section: Spec.Seccomp) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ bytes: some Sequence<UInt8>) {
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
        }
        mix(section.jsonValue.serializedBytes())
        if let version = seccomp_version() {
            mix("\(version.pointee.major).\(version.pointee.minor).\(version.pointee.micro)".utf8)
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
