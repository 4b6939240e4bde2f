// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import SkiffSeccomp
import SkiffSpec
import SkiffSystem
import Testing

/// The compiled-filter cache and the two kinds of failure: the profile's (a field to fix) and
/// the host's (where the filter could not be stored).
@Suite("seccomp cache and errors")
struct SeccompCacheTests {
    let root = NSTemporaryDirectory() + "skiff-seccomp-\(UUID().uuidString.prefix(8))"

    @Test func aProfileIsCompiledOnceAndReadFromTheCacheAfter() throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = SeccompCache(root: root)
        let first = try cache.open(.defaultProfile)
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.directory)
        #expect(files.count == 1 && files[0].hasSuffix(".bpf"))
        let second = try cache.open(.defaultProfile)
        var a = stat(), b = stat()
        #expect(fstat(first.rawValue, &a) == 0 && fstat(second.rawValue, &b) == 0)
        #expect(a.st_size == b.st_size && a.st_size % 8 == 0 && a.st_size > 0)
    }

    @Test func whereNothingCanBeStoredTheFilterStillComesInMemory() throws {
        // A state root under a file: the cache directory cannot be made; a memfd holds it.
        let file = NSTemporaryDirectory() + "skiff-seccomp-file-\(UUID().uuidString.prefix(8))"
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let descriptor = try SeccompCache(root: file).open(.defaultProfile)
        var st = stat()
        #expect(fstat(descriptor.rawValue, &st) == 0 && st.st_size > 0)
    }

    @Test func aRuleLibseccompRefusesIsTheProfilesError() {
        let profile = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["read"], action: "SCMP_ACT_ERRNO", args: [.init(index: 0, value: 1, op: "SCMP_CMP_BOGUS")])])
        do {
            _ = try SeccompCompiler.compile(profile)
            Issue.record("a bogus operator compiled")
        } catch {
            guard case .config = error else {
                Issue.record("a bad rule was reported as the host's: \(error)")
                return
            }
        }
    }

    @Test func theTwoKindsSayThemselves() {
        #expect(SeccompError.config(SpecError("linux.seccomp", "x")).description == "linux.seccomp: x")
        #expect(SeccompError.system(SystemError("storing the compiled filter", errno: ENOSPC)).description == "storing the compiled filter: No space left on device")
    }
}
