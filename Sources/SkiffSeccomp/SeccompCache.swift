// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// Compiled filters by a hash of their section, so the same profile (every container of a
/// scheduler usually has the same one) is compiled once. Files are complete or absent: each
/// is written unnamed (O_TMPFILE) and linked in place, so a killed `create` leaves nothing.
public struct SeccompCache: Sendable {
    public let directory: String

    public init(root: String) { directory = root + "/.seccomp" }

    /// A read-only descriptor of the compiled program for `section`, compiling it if needed.
    public func open(_ section: Spec.Seccomp) throws(SeccompError) -> FileDescriptor {
        let path = directory + "/" + Self.key(section) + ".bpf"
        if let cached = try? FileDescriptor(opening: path, O_RDONLY, step: path) { return cached }
        let program = try SeccompCompiler.compile(section)
        mkdir(directory, 0o700)
        do throws(SystemError) {
            // Unnamed in the cache directory, linked in once whole; a memfd if the directory
            // cannot take it (the filter is then compiled again next time).
            let unnamed = skiff_open_tmpfile(directory)
            let file = try FileDescriptor(checking: unnamed >= 0 ? unnamed : skiff_memfd("seccomp"), step: "storing the compiled filter")
            try file.write(program, step: "storing the compiled filter")
            if unnamed >= 0 { _ = skiff_link_tmpfile(file.rawValue, path) }  // EEXIST: another create was first
            return file
        } catch { throw .system(error) }
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
