// SPDX-License-Identifier: Apache-2.0
import SkiffCgroups
import SkiffSpec
import Testing

/// How `linux.resources` maps onto cgroup files, on v2 and on v1, without touching the host.
@Suite("resource plans")
struct ResourcePlanTests {
    func plan(_ resources: Spec.Resources, _ version: CgroupHierarchy.Version) throws(SpecError) -> ResourcePlan {
        try ResourcePlan(resources) { _ in version }
    }

    func files(_ plan: ResourcePlan) -> [String: String] {
        Dictionary(plan.writes.map { ($0.candidates[0].file, $0.candidates[0].value) }, uniquingKeysWith: { $1 })
    }

    @Test func cpuOnV2() throws {
        var cpu = Spec.CPU(shares: 1024, quota: 20_000, period: 100_000, cpus: "0", mems: "0")
        cpu.burst = 5000
        cpu.idle = 1
        let written = files(try plan(.init(cpu: cpu), .v2))
        #expect(written["cpu.weight"] == "39")  // runc: 1 + (1024 - 2) * 9999 / 262142
        #expect(written["cpu.max"] == "20000 100000")
        #expect(written["cpu.max.burst"] == "5000")
        #expect(written["cpu.idle"] == "1")
        #expect(written["cpuset.cpus"] == "0")
        #expect(written["cpuset.mems"] == "0")
        #expect(files(try plan(.init(cpu: .init(quota: -1, period: 50_000)), .v2))["cpu.max"] == "max 50000")
    }

    @Test func cpuOnV1() throws {
        let written = try plan(.init(cpu: .init(shares: 512, quota: 20_000, period: 50_000)), .v1).writes.map { $0.candidates[0].file }
        // The period before the quota.
        #expect(written == ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"])
    }

    @Test func sharesToWeightMatchesRunc() {
        #expect(ResourcePlan.weight(fromShares: 2) == 1)
        #expect(ResourcePlan.weight(fromShares: 262_144) == 10_000)
        #expect(ResourcePlan.weight(fromShares: 1024) == 39)
    }

    @Test func memoryOnV2ConvertsSwap() throws {
        var memory = Spec.Memory(limit: 32 << 20, reservation: 16 << 20, swap: 64 << 20)
        memory.kernel = 1
        let result = try plan(.init(memory: memory), .v2)
        let written = files(result)
        #expect(written["memory.max"] == String(32 << 20))
        #expect(written["memory.low"] == String(16 << 20))
        #expect(written["memory.swap.max"] == String(32 << 20))  // OCI swap is memory+swap
        #expect(result.warnings.contains { $0.contains("linux.resources.memory.kernel") })
        #expect(files(try plan(.init(memory: .init(limit: 1 << 20, swap: -1)), .v2))["memory.swap.max"] == "max")
    }

    @Test func memoryOnV1() throws {
        var memory = Spec.Memory(limit: 32 << 20, swap: 64 << 20)
        memory.disableOOMKiller = true
        memory.swappiness = 10
        let written = files(try plan(.init(memory: memory), .v1))
        #expect(written["memory.limit_in_bytes"] == String(32 << 20))
        #expect(written["memory.memsw.limit_in_bytes"] == String(64 << 20))
        #expect(written["memory.oom_control"] == "1")
        #expect(written["memory.swappiness"] == "10")
    }

    @Test func badResourcesNameTheField() {
        func expectError(
            _ resources: Spec.Resources, _ message: String, _ version: CgroupHierarchy.Version = .v2,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            do {
                _ = try plan(resources, version)
                Issue.record("expected \(message)", sourceLocation: sourceLocation)
            } catch {
                #expect(error.description == message, sourceLocation: sourceLocation)
            }
        }
        expectError(
            .init(memory: .init(limit: 64 << 20, swap: 32 << 20)),
            "linux.resources.memory.swap: must be at least memory.limit (67108864): it counts memory+swap, got 33554432")
        expectError(.init(memory: .init(swap: 32 << 20)), "linux.resources.memory.swap: needs memory.limit (swap is memory+swap)")
        expectError(.init(memory: .init(limit: -5)), "linux.resources.memory.limit: must be positive (or -1 for no limit), got -5")
        expectError(.init(memory: .init(limit: -5)), "linux.resources.memory.limit: must be positive (or -1 for no limit), got -5", .v1)
        expectError(.init(cpu: .init(cpus: "0-4095")), "linux.resources.cpu.cpus: CPU 2 does not exist on this host (online: 0,1)")
        expectError(.init(cpu: .init(cpus: "zero")), #"linux.resources.cpu.cpus: "zero" is not a list like "0-3,7" (0 to 8191)"#)
        // A hostile range is refused by its bound, never enumerated (two billion CPUs).
        expectError(.init(cpu: .init(cpus: "0-2000000000")), #"linux.resources.cpu.cpus: "0-2000000000" is not a list like "0-3,7" (0 to 8191)"#)
        expectError(.init(cpu: .init(mems: "0-2000000000")), #"linux.resources.cpu.mems: "0-2000000000" is not a list like "0-3,7" (0 to 8191)"#)
        var realtime = Spec.CPU()
        realtime.realtimeRuntime = 1000
        expectError(.init(cpu: realtime), "linux.resources.cpu.realtimeRuntime: real-time CPU limits are not supported on cgroup v2")
        var unified = Spec.Resources()
        unified.unified = ["../../escape": "1"]
        expectError(unified, "linux.resources.unified.../../escape: not a cgroup file name")
        unified.unified = ["cgroup.procs": "1"]
        expectError(unified, "linux.resources.unified.cgroup.procs: cgroup.procs is a control file, not a resource")
        unified.unified = ["memory/high": "1"]
        expectError(unified, "linux.resources.unified.memory/high: not a cgroup file name")
        var io = Spec.Resources()
        io.blockIO = .init(weight: 5)
        expectError(io, "linux.resources.blockIO.weight: must be between 10 and 1000, got 5")
        expectError(.init(devices: [.init(allow: true, type: "x")]), #"linux.resources.devices[0].type: unknown device type "x" (expected a, c or b)"#)
        expectError(.init(devices: [.init(allow: true, access: "rwx")]), #"linux.resources.devices[0].access: "rwx" is not a combination of r, w and m"#)
    }

    @Test func ioOnBothVersions() throws {
        var io = Spec.Resources()
        io.blockIO = Spec.BlockIO(weight: 500, throttleReadBpsDevice: [.init(major: 8, minor: 0, rate: 1_048_576)])
        let v2 = try plan(io, .v2)
        #expect(v2.writes[0].candidates.map(\.file) == ["io.bfq.weight", "io.weight"])
        #expect(v2.writes[0].candidates.map(\.value) == ["500", "4950"])  // runc: 1 + (500 - 10) * 9999 / 990
        #expect(v2.writes[1].candidates[0].value == "8:0 rbps=1048576")
        let v1 = try plan(io, .v1)
        #expect(v1.writes[1].candidates[0].file == "blkio.throttle.read_bps_device")
        #expect(v1.writes[1].candidates[0].value == "8:0 1048576")
    }

    @Test func hugepagesPidsRdmaUnified() throws {
        var resources = Spec.Resources(pids: .init(limit: 10))
        resources.hugepageLimits = [.init(pageSize: "2MB", limit: 4 << 20)]
        resources.rdma = ["mlx5_1": .init(hcaHandles: 3, hcaObjects: 100)]
        resources.unified = ["memory.high": "64M"]
        let v2 = files(try plan(resources, .v2))
        #expect(v2["pids.max"] == "10")
        #expect(v2["hugetlb.2MB.max"] == String(4 << 20))
        #expect(v2["rdma.max"] == "mlx5_1 hca_handle=3 hca_object=100")
        #expect(v2["memory.high"] == "64M")
        #expect(files(try plan(resources, .v1))["hugetlb.2MB.limit_in_bytes"] == String(4 << 20))
    }

    @Test func deviceRulesKeepTheLastWildcardAndTheRulesAfterIt() throws {
        var rules = try DeviceRules(
            [
                .init(allow: true, access: "rwm"), .init(allow: false, access: "rwm"),
                .init(allow: true, type: "c", major: 1, minor: 3, access: "rw"),
            ],
            path: JSONPath("linux.resources.devices"))
        #expect(!rules.defaultAllow)
        #expect(rules.rules == [DeviceRule(allow: true, type: "c", major: 1, minor: 3, access: "rw")])
        #expect(rules.v1Writes.map { "\($0.candidates[0].file) \($0.candidates[0].value)" } == ["devices.deny a", "devices.allow c 1:3 rw"])
        rules.allowStandardDevices(plus: [.init(type: "c", path: "/dev/fuse", major: 10, minor: 229)])
        #expect(rules.rules.contains(DeviceRule(allow: true, type: "c", major: 10, minor: 229, access: "rwm")))
        // The program ends by returning the default, deny.
        let program = rules.program
        #expect(program.suffix(2).map(\.code) == [0xb4, 0x95])
        #expect(program[program.count - 2].immediate == 0)
        // Every jump lands inside the program.
        for (i, instruction) in program.enumerated() where instruction.code == 0x55 || instruction.code == 0x5d {
            #expect(i + Int(instruction.offset) + 1 < program.count)
        }
    }
}
