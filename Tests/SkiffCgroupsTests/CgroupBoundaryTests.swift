// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@testable import SkiffCgroups

/// The cgroup boundary as the rest of skiff sees it: one registry, the drivers' answers for a
/// container's `/sys/fs/cgroup`, the `none` driver, and the record's shape. No host is read.
@Suite("the cgroup boundary")
struct CgroupBoundaryTests {
    static let hybrid = CgroupSystem(hierarchies: [
        CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/memory", controllers: ["memory"], mountData: "memory"),
        CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/cpu,cpuacct", controllers: ["cpu", "cpuacct"], mountData: "cpu,cpuacct"),
        CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/systemd", controllers: [], mountData: "name=systemd"),
        CgroupHierarchy(version: .v2, mountPoint: "/sys/fs/cgroup/unified", controllers: ["hugetlb"]),
    ])
    static let pureV2 = CgroupSystem(hierarchies: [CgroupHierarchy(version: .v2, mountPoint: "/sys/fs/cgroup", controllers: ["cpu", "memory", "pids"])])

    static func cgroup(on system: CgroupSystem) -> ContainerCgroup {
        ContainerCgroup(
            relativePath: "/c",
            directories: system.participating().map { .init(path: $0.mountPoint + "/c", version: $0.version, controllers: $0.controllers) })
    }

    @Test func theRegistryChoosesByNameForNewContainers() {
        #expect(CgroupDrivers.driver(named: "cgroupfs", system: Self.hybrid) is CgroupfsDriver)
        #expect(CgroupDrivers.driver(named: "systemd", system: Self.pureV2) is SystemdDriver)
        #expect(CgroupDrivers.driver(named: "none", system: Self.hybrid) is NoCgroupDriver)
        #expect(CgroupDrivers.available == ["cgroupfs", "systemd"])
    }

    @Test func theRegistryChoosesByRecordForExistingOnes() {
        var recorded = Self.cgroup(on: Self.pureV2)
        #expect(CgroupDrivers.driver(for: recorded) is CgroupfsDriver)
        recorded.driver = "systemd"
        #expect(CgroupDrivers.driver(for: recorded) is SystemdDriver)
        recorded.driver = "none"
        #expect(CgroupDrivers.driver(for: recorded) is NoCgroupDriver)
        #expect(CgroupDrivers.driver(for: nil) is NoCgroupDriver)
    }

    @Test func withoutACgroupNamespaceAHybridHostShowsTheContainersDirectoriesInATmpfs() {
        let view = CgroupfsDriver(system: Self.hybrid).mountView(of: Self.cgroup(on: Self.hybrid), namespaces: .init(newCgroup: false, newUser: false))
        #expect(
            view
                == .perHierarchy([
                    .init(name: "memory", source: .bind("/sys/fs/cgroup/memory/c")),
                    .init(name: "cpu,cpuacct", source: .bind("/sys/fs/cgroup/cpu,cpuacct/c")),
                    .init(name: "unified", source: .bind("/sys/fs/cgroup/unified/c")),
                ]))
    }

    /// In a cgroup namespace the v2 hierarchy is mounted afresh, and each v1 one is the
    /// container's own directory bound (the same tree, without the kernel's walk of every v2
    /// cgroup that a fresh v1 mount makes); a v1 hierarchy where it has none is mounted afresh.
    @Test func inACgroupNamespaceV2IsMountedAfreshAndV1BoundFromTheContainersOwnDirectories() {
        let view = CgroupfsDriver(system: Self.hybrid).mountView(of: Self.cgroup(on: Self.hybrid), namespaces: .init(newCgroup: true, newUser: false))
        #expect(
            view
                == .perHierarchy([
                    .init(name: "memory", source: .bind("/sys/fs/cgroup/memory/c")),
                    .init(name: "cpu,cpuacct", source: .bind("/sys/fs/cgroup/cpu,cpuacct/c")),
                    .init(name: "unified", source: .fresh(type: "cgroup2", data: "")),
                ]))
        var withoutMemory = Self.cgroup(on: Self.hybrid)
        withoutMemory.directories.removeAll { $0.path.hasPrefix("/sys/fs/cgroup/memory/") }
        let partial = CgroupfsDriver(system: Self.hybrid).mountView(of: withoutMemory, namespaces: .init(newCgroup: true, newUser: false))
        guard case .perHierarchy(let entries) = partial else {
            Issue.record("\(partial)")
            return
        }
        #expect(entries.first { $0.name == "memory" }?.source == .fresh(type: "cgroup", data: "memory"))
    }

    /// A user namespace may mount cgroup2 in its own cgroup namespace, but no v1 hierarchy.
    @Test func aUserNamespaceOnAHybridHostBindsInstead() {
        let view = CgroupfsDriver(system: Self.hybrid).mountView(of: Self.cgroup(on: Self.hybrid), namespaces: .init(newCgroup: true, newUser: true))
        guard case .perHierarchy(let entries) = view else {
            Issue.record("\(view)")
            return
        }
        #expect(entries.allSatisfy { if case .bind = $0.source { true } else { false } })
    }

    @Test func aPureV2HostShowsItsOneHierarchy() {
        let driver = CgroupfsDriver(system: Self.pureV2)
        let cgroup = Self.cgroup(on: Self.pureV2)
        #expect(driver.mountView(of: cgroup, namespaces: .init(newCgroup: false, newUser: false)) == .single(.bind("/sys/fs/cgroup/c")))
        #expect(driver.mountView(of: cgroup, namespaces: .init(newCgroup: true, newUser: true)) == .single(.fresh(type: "cgroup2", data: "")))
        // The systemd driver answers as cgroupfs does: it composes it.
        #expect(
            SystemdDriver(system: Self.pureV2, user: false).mountView(of: cgroup, namespaces: .init(newCgroup: true, newUser: false))
                == .single(.fresh(type: "cgroup2", data: "")))
    }

    @Test func noCgroupShowsTheNodesTreeReadOnly() throws {
        let driver = NoCgroupDriver()
        let cgroup = try driver.plan(cgroupsPath: "/anything", id: "x")
        #expect(cgroup.directories.isEmpty && cgroup.driver == "none")
        #expect(driver.mountView(of: cgroup, namespaces: .init(newCgroup: true, newUser: true)) == .nodeTreeReadOnly)
    }

    @Test func noCgroupLimitsNothingAndSaysSoWhenAsked() throws {
        let driver = NoCgroupDriver()
        let cgroup = try driver.plan(cgroupsPath: nil, id: "x")
        #expect(try driver.plan(Spec.Resources(memory: .init(limit: 1 << 20))).writes.isEmpty)
        #expect(driver.processes(cgroup).isEmpty && !driver.isFrozen(cgroup))
        #expect(throws: CgroupError.self) { try driver.freeze(cgroup) }
        #expect(throws: CgroupError.self) { try driver.thaw(cgroup) }
        #expect(throws: CgroupError.self) { try driver.update(cgroup, plan: ResourcePlan()) }
        try driver.create(cgroup, plan: ResourcePlan())
        try driver.destroy(cgroup) { _ in true }
    }

    @Test func aDirectorysVersionIsAnEnumOnDiskAsText() throws {
        let directory = ContainerCgroup.Directory(path: "/sys/fs/cgroup/c", version: .v2, controllers: ["memory"], hierarchyRoot: "/sys/fs/cgroup")
        let cgroup = ContainerCgroup(relativePath: "/c", directories: [directory])
        let text = cgroup.jsonValue.serializedBytes()
        #expect(String(decoding: text, as: UTF8.self).contains("\"version\": \"v2\"") || String(decoding: text, as: UTF8.self).contains("\"version\":\"v2\""))
        let read = try ContainerCgroup(jsonValue: try JSONValue.parse(text))
        #expect(read == cgroup)
        let bad = String(decoding: text, as: UTF8.self).replacingOccurrences(of: "\"v2\"", with: "\"v3\"")
        #expect(throws: SpecError.self) { _ = try ContainerCgroup(jsonValue: try JSONValue.parse(Array(bad.utf8))) }
    }

    @Test func theVersionSaysWhereEachControllerIsEnforced() {
        #expect(Self.hybrid.hierarchy(for: "memory")?.version == .v1)
        #expect(Self.hybrid.hierarchy(for: "hugetlb")?.version == .v2)
        #expect(Self.hybrid.hierarchy(for: "io") == nil)
        #expect(!Self.hybrid.isPureV2 && Self.pureV2.isPureV2)
        // Named hierarchies (name=systemd) carry no limits: containers do not join them.
        #expect(!Self.hybrid.participating().contains { $0.mountPoint.hasSuffix("/systemd") })
    }

    @Test func theLayoutIsOneLine() {
        #expect(Self.hybrid.layout == "cgroup hybrid: v1 for cpu, cpuacct, memory; v2 at /sys/fs/cgroup/unified for hugetlb")
        #expect(Self.pureV2.layout == "cgroup v2 (unified): v2 at /sys/fs/cgroup for cpu, memory, pids")
        #expect(CgroupSystem(hierarchies: []).layout == "no cgroup hierarchy mounted")
    }

    @Test func aContainersDirectoriesAreFoundByController() {
        let cgroup = Self.cgroup(on: Self.hybrid)
        #expect(cgroup.directory(for: "memory")?.path == "/sys/fs/cgroup/memory/c")
        #expect(cgroup.directory(for: "hugetlb")?.version == .v2)
        #expect(cgroup.unifiedDirectory == "/sys/fs/cgroup/unified/c")
        let nested = cgroup.nested("sub/leaf")
        #expect(nested.relativePath == "/c/sub/leaf")
        #expect(nested.directories.allSatisfy { $0.path.hasSuffix("/c/sub/leaf") })
    }

    @Test func aCgroupSkiffJoinedIsNotOwned() {
        var cgroup = Self.cgroup(on: Self.pureV2)
        #expect(cgroup.isOwned)
        cgroup.shared = true
        #expect(!cgroup.isOwned)
        cgroup.shared = false
        cgroup.directories[0].existed = true
        #expect(!cgroup.isOwned)
    }

    @Test func mountinfoEscapesAreRead() {
        #expect(CgroupSystem.unescape("/sys/fs/cgroup/a\\040b") == "/sys/fs/cgroup/a b")
        #expect(CgroupSystem.unescape("/plain") == "/plain")
    }

    @Test func cgroupsPathsAreValidatedBeforeAnythingIsRead() {
        #expect(throws: SpecError.self) { try CgroupfsDriver.validate(cgroupsPath: "/a/../b") }
        #expect(throws: SpecError.self) { try CgroupfsDriver.validate(cgroupsPath: "system.slice:skiff:x") }
        #expect(throws: Never.self) { try CgroupfsDriver.validate(cgroupsPath: "/kubepods/pod1/ctr") }
        #expect(ContainerCgroup.normalize("a/./b//c") == "/a/b/c")
    }
}

/// How limits map to systemd properties and to files, side by side.
@Suite("resource mapping to systemd properties")
struct SystemdMappingTests {
    static func split(_ resources: Spec.Resources) throws -> (properties: [String: DBusValue], files: [String]) {
        let plan = try ResourcePlan(resources) { _ in .v2 }
        let (properties, files) = SystemdProperties.split(plan)
        return (Dictionary(properties.map { ($0.0, $0.1) }, uniquingKeysWith: { $1 }), files.map { $0.candidates.last!.file })
    }

    @Test func anUnlimitedQuotaIsInfinityPerSecond() throws {
        let (properties, files) = try Self.split(.init(cpu: .init(quota: -1, period: 50_000)))
        #expect(properties["CPUQuotaPerSecUSec"] == .uint64(.max))
        #expect(properties["CPUQuotaPeriodUSec"] == .uint64(50_000))
        #expect(files == ["cpu.max"])
    }

    @Test func aTinyQuotaIsRoundedUpToSystemdsTenMilliseconds() throws {
        let (properties, _) = try Self.split(.init(cpu: .init(quota: 500, period: 100_000)))
        #expect(properties["CPUQuotaPerSecUSec"] == .uint64(10_000))
    }

    @Test func memoryLowAndSwapAreProperties() throws {
        let (properties, files) = try Self.split(.init(memory: .init(limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20)))
        #expect(properties["MemoryMax"] == .uint64(64 << 20))
        #expect(properties["MemoryLow"] == .uint64(32 << 20))
        #expect(properties["MemorySwapMax"] == .uint64(64 << 20))
        #expect(files.isEmpty)
    }

    @Test func unlimitedPidsIsInfinity() throws {
        let (properties, _) = try Self.split(.init(pids: .init(limit: -1)))
        #expect(properties["TasksMax"] == .uint64(.max))
    }

    @Test func whatSystemdHasNoPropertyForStaysAFile() throws {
        var resources = Spec.Resources()
        resources.unified = ["memory.oom.group": "1"]
        let (properties, files) = try Self.split(resources)
        #expect(properties.isEmpty)
        #expect(files == ["memory.oom.group"])
    }

    @Test func memoryNodesAreABitmask() throws {
        let (properties, _) = try Self.split(.init(cpu: .init(mems: "0")))
        #expect(properties["AllowedMemoryNodes"] == .bytes([0b1]))
    }
}

/// What a container whose record is lost left: each driver looks at its own default place.
@Suite("leftovers of a lost record")
struct CgroupLeftoverTests {
    @Test func noDriverFindsWhatIsNotThere() {
        let id = "no-such-container-\(getpid())"
        for driver in CgroupDrivers.all(system: .current()) { #expect(driver.leftover(ofDefault: id) == nil) }
        #expect(CgroupDrivers.all(system: .current()).count == 3)
    }

    @Test func systemdLooksOnlyOnAPureV2Host() {
        #expect(SystemdDriver(system: CgroupBoundaryTests.hybrid, user: false).leftover(ofDefault: "x") == nil)
    }
}
