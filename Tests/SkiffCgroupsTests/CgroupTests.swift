// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@testable import SkiffCgroups

@Suite("cgroup layout and files")
struct CgroupTests {
    @Test func ownCgroupsAreKeyedByControllerList() {
        let table = CgroupSystem.ownCgroups(
            """
            12:cpu,cpuacct:/a
            4:memory:/process_api/abc
            1:name=systemd:/
            0::/user.slice
            """)
        #expect(table["cpu,cpuacct"] == "/a")
        #expect(table["memory"] == "/process_api/abc")
        #expect(table["name=systemd"] == "/")
        #expect(table[""] == "/user.slice")
    }

    @Test func hostHierarchiesAreFound() {
        let system = CgroupSystem.current()
        #expect(!system.hierarchies.isEmpty)
        // Every controller skiff limits is somewhere on this host.
        for controller in ["memory", "pids", "cpu"] {
            #expect(system.hierarchy(for: controller) != nil, "\(controller)")
        }
    }

    @Test func createWritesLimitsAndDestroyRemovesEverything() throws {
        let driver = CgroupfsDriver()
        let cgroup = try driver.plan(cgroupsPath: nil, id: "unit-\(UUID().uuidString.prefix(8))")
        try driver.create(cgroup, plan: try driver.plan(.init(memory: .init(limit: 32 << 20), pids: .init(limit: 7))))
        for directory in cgroup.directories {
            #expect(FileManager.default.fileExists(atPath: directory.path))
        }
        let pids = cgroup.directory(for: "pids")!.path + "/pids.max"
        #expect(try String(contentsOfFile: pids, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "7")
        try driver.destroy(cgroup, belongs: { _ in false })
        for directory in cgroup.directories {
            #expect(!FileManager.default.fileExists(atPath: directory.path))
        }
        // Destroying twice is fine (delete must be repeatable).
        try driver.destroy(cgroup, belongs: { _ in false })
    }

    @Test func aFailedLimitRemovesWhatWasCreated() throws {
        let driver = CgroupfsDriver()
        let cgroup = try driver.plan(cgroupsPath: nil, id: "unit-bad-\(UUID().uuidString.prefix(8))")
        #expect(throws: (any Error).self) {
            // A quota the kernel rejects (below 1ms).
            try driver.create(cgroup, plan: try driver.plan(.init(cpu: .init(quota: 10, period: 100_000))))
        }
        for directory in cgroup.directories {
            #expect(!FileManager.default.fileExists(atPath: directory.path))
        }
    }

    @Test func cgroupsPathWithDotDotIsRejected() {
        #expect(throws: SpecError.self) { try CgroupfsDriver.validate(cgroupsPath: "/a/../../b") }
        #expect(throws: SpecError.self) { try CgroupfsDriver().plan(cgroupsPath: "/", id: "x") }
    }
}
