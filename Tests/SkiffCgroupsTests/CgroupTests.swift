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

    /// A pure v2 host's hierarchy is taken without mountinfo only when nothing else could be
    /// mounted: no v1 hierarchy, /sys/fs/cgroup a cgroup2 mount, our cgroup below it.
    @Test func aPureV2HierarchyIsTakenWithoutMountinfoOnlyWhereNothingElseCouldBe() {
        let own = CgroupSystem.ownCgroups("0::/user.slice/session-1.scope\n")
        let below: (String) -> Bool = { $0 == "/sys/fs/cgroup/user.slice/session-1.scope" }
        #expect(CgroupSystem.unifiedOnly(own: own, isUnifiedMount: true, holds: below) == "/user.slice/session-1.scope")
        // A cgroup namespace's root is the mount itself.
        #expect(CgroupSystem.unifiedOnly(own: CgroupSystem.ownCgroups("0::/\n"), isUnifiedMount: true, holds: { _ in false }) == "/")
        // Any v1 hierarchy, even a named one without controllers: mountinfo says where.
        let named = CgroupSystem.ownCgroups("1:name=systemd:/\n0::/user.slice/session-1.scope\n")
        #expect(CgroupSystem.unifiedOnly(own: named, isUnifiedMount: true, holds: below) == nil)
        #expect(CgroupSystem.unifiedOnly(own: CgroupSystem.ownCgroups("4:memory:/a\n"), isUnifiedMount: true, holds: { _ in true }) == nil)
        // /sys/fs/cgroup a tmpfs (hybrid, v1) or a directory inside another mount.
        #expect(CgroupSystem.unifiedOnly(own: own, isUnifiedMount: false, holds: below) == nil)
        // A bind mount of part of the hierarchy: our cgroup is not below it.
        #expect(CgroupSystem.unifiedOnly(own: own, isUnifiedMount: true, holds: { _ in false }) == nil)
        #expect(CgroupSystem.unifiedOnly(own: [:], isUnifiedMount: true, holds: { _ in true }) == nil)
    }

    /// The kernel's answer: a cgroup2 mount's root is one, a cgroup below it and a tmpfs are not.
    @Test(.enabled(if: access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0, "a hybrid host's cgroup2 mount"))
    func aCgroup2MountRootIsToldFromACgroupBelowIt() throws {
        func isRoot(_ path: String) throws -> Bool {
            let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            try #require(directory >= 0, "\(path): errno \(errno)")
            defer { close(directory) }
            return CgroupPath.isUnifiedMountRoot(directory)
        }
        let child = "/sys/fs/cgroup/unified/skiff-unit-\(UUID().uuidString.prefix(8))"
        try #require(mkdir(child, 0o755) == 0, "mkdir \(child): errno \(errno)")
        defer { rmdir(child) }
        #expect(try isRoot("/sys/fs/cgroup/unified"))
        #expect(try !isRoot(child))
        #expect(try !isRoot("/sys/fs/cgroup"))
        // This host names v1 hierarchies: mountinfo decides, as before.
        #expect(!CgroupSystem.current().isPureV2)
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

/// Pressure stall information: read from the unified cgroup where the kernel keeps it,
/// absent (not zero) where it does not.
@Suite struct PressureTests {
    @Test func aPressureFileIsReadAsTheKernelWritesIt() throws {
        let text = "some avg10=1.14 avg60=0.50 avg300=0.07 total=2693146\nfull avg10=0.00 avg60=0.25 avg300=0.00 total=1024\n"
        let pressure = try #require(CgroupStats.Pressure(text))
        #expect(pressure.some == .init(avg10: 1.14, avg60: 0.5, avg300: 0.07, total: 2_693_146))
        #expect(pressure.full == .init(avg10: 0, avg60: 0.25, avg300: 0, total: 1024))
        #expect(CgroupStats.Pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n")?.full == nil)
        #expect(CgroupStats.Pressure("") == nil)
    }

    @Test func onlyTheUnifiedCgroupHasPressure() throws {
        let base = NSTemporaryDirectory() + "skiff-psi-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        for directory in ["v1cpu", "v2"] { try FileManager.default.createDirectory(atPath: base + "/" + directory, withIntermediateDirectories: true) }
        for resource in ["cpu", "memory", "io"] {
            try "some avg10=2.00 avg60=1.00 avg300=0.50 total=77\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                .write(toFile: base + "/v2/\(resource).pressure", atomically: true, encoding: .utf8)
        }
        let v1Only = ContainerCgroup(relativePath: "x", directories: [.init(path: base + "/v1cpu", version: .v1, controllers: ["cpu", "cpuacct"])])
        let v1Stats = CgroupfsDriver().stats(v1Only)
        #expect(v1Stats.cpu.pressure == nil && v1Stats.memory.pressure == nil && v1Stats.ioPressure == nil)
        let hybrid = ContainerCgroup(
            relativePath: "x",
            directories: [.init(path: base + "/v1cpu", version: .v1, controllers: ["cpu", "cpuacct"]), .init(path: base + "/v2", version: .v2, controllers: [])])
        let stats = CgroupfsDriver().stats(hybrid)
        #expect(stats.cpu.pressure?.some.total == 77)
        #expect(stats.memory.pressure?.some.avg10 == 2)
        #expect(stats.ioPressure?.full?.total == 0)
    }
}
