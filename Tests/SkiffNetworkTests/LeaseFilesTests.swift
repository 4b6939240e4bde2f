// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import Testing

@testable import SkiffNetwork

/// A node's lease files: what a setup killed at any instant leaves goes with the bridge's last
/// lease, and so does the directory.
@Suite("lease files")
struct LeaseFilesTests {
    /// A save killed before its rename leaves `<bridge>.leases.<pid>.tmp`; a directory made by a
    /// setup killed before its lock file is empty. The sweep of a DEL removes both.
    @Test func whatKilledSetupsLeaveIsSwept() throws {
        let directory = NSTemporaryDirectory() + "skiff-leases-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: directory + "/skiff0.lock", contents: nil))
        #expect(FileManager.default.createFile(atPath: directory + "/skiff0.leases.4758.tmp", contents: Data("10.77.0.2 x".utf8)))
        TaskNetwork.sweep(leases: directory)
        #expect(!FileManager.default.fileExists(atPath: directory), "\((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])")

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        TaskNetwork.sweep(leases: directory)
        #expect(!FileManager.default.fileExists(atPath: directory))
    }
}
