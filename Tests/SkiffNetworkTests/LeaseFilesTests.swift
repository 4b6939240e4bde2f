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

    /// A store writes back the lines it read as they were (a create reads and writes every
    /// lease of its bridge), decodes a lease's fields when asked, finds a lease by its
    /// owner as escaped in the file, and reads the first leases' four fields.
    @Test func leasesAreWrittenBackAsReadAndDecodedWhenAsked() throws {
        let directory = NSTemporaryDirectory() + "skiff-leases-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file =
            "subnet 10.77.0.0/16\ngroup web 1\ngroup db 2\n"
            + "10.77.0.2 /run/skiff/old - skv0a4d0002aaa\n"
            + "10.77.0.3 /tmp/a%20b/db db,web skv0a4d0003bbb tcp%205432%20web;%20icmp%20web -\n"
            + "10.77.0.4 /run/skiff/last - skv0a4d0004ccc - *"
        try Data(file.utf8).write(to: URL(fileURLWithPath: directory + "/skiff0.leases"))
        do {
            var store = try LeaseStore(directory: directory, bridge: "skiff0")
            #expect(store.subnet == IPv4Subnet("10.77.0.0/16") && store.groupNumbers == ["web": 1, "db": 2])
            #expect(store.leases.map(\.address.description) == ["10.77.0.2", "10.77.0.3", "10.77.0.4"])
            let old = store.leases[0], db = store.leases[1]
            #expect(old.owner == "/run/skiff/old" && old.groups == [] && old.interface == "skv0a4d0002aaa")
            #expect(old.ingress == "" && old.egress == nil && !old.restrictsEgress)
            #expect(db.owner == "/tmp/a b/db" && db.groups == ["db", "web"] && db.interface == "skv0a4d0003bbb")
            #expect(db.ingress == "tcp 5432 web; icmp web" && db.egress == "" && db.restrictsEgress)
            #expect(store.leases(heldBy: "/tmp/a b/db") == [db] && store.leases(partitionedBy: "/tmp/a b/db").others == [old, store.leases[2]])
            #expect(store.leases(heldBy: "/tmp/a%20b/db").isEmpty)
            let added = LeaseStore.Lease(
                address: IPv4Address("10.77.0.5")!, owner: "/run/skiff/new", groups: ["web"], interface: "skv0a4d0005ddd", ingress: "tcp 80 web")
            #expect(added.owner == "/run/skiff/new" && added.groups == ["web"] && added.ingress == "tcp 80 web" && added.egress == nil)
            store.leases.append(added)
            store.removeLeases(heldBy: "/run/skiff/old")
            try store.save()
        }
        let written = try String(contentsOfFile: directory + "/skiff0.leases", encoding: .utf8)
        #expect(
            written
                == "subnet 10.77.0.0/16\ngroup web 1\ngroup db 2\n"
                + "10.77.0.3 /tmp/a%20b/db db,web skv0a4d0003bbb tcp%205432%20web;%20icmp%20web -\n"
                + "10.77.0.4 /run/skiff/last - skv0a4d0004ccc - *\n"
                + "10.77.0.5 /run/skiff/new web skv0a4d0005ddd tcp%2080%20web *\n")
    }

    /// The lease file's byte search answers in the file's own indices on any slice of it, and
    /// a line with a field too many or too few is not a lease.
    @Test func byteSearchKeepsTheFilesIndices() {
        let bytes = Array("ab cd\nef g".utf8)
        let slice = bytes[3...]
        #expect(slice.firstIndex(ofByte: UInt8(ascii: "\n"), from: 3) == 5)
        #expect(slice.firstIndex(ofByte: UInt8(ascii: " "), from: 3) == 8)
        #expect(slice.firstIndex(ofByte: UInt8(ascii: "z"), from: 3) == nil)
        #expect(slice.firstIndex(ofByte: UInt8(ascii: "g"), from: bytes.count) == nil)
        #expect(LeaseStore.Lease(line: Array("10.77.0.2 /run/x - skv0a4d0002aaa\n".utf8)[...]) != nil)
        #expect(LeaseStore.Lease(line: Array("10.77.0.2 /run/x - skv0a4d0002aaa - *\n".utf8)[...]) != nil)
        #expect(LeaseStore.Lease(line: Array("10.77.0.2 /run/x - skv0a4d0002aaa -\n".utf8)[...]) == nil)
        #expect(LeaseStore.Lease(line: Array("10.77.0.2 /run/x -\n".utf8)[...]) == nil)
        #expect(LeaseStore.Lease(line: Array("subnet 10.77.0.0/16\n".utf8)[...]) == nil)
    }
}
