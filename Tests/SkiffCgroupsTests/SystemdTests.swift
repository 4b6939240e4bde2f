// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@testable import SkiffCgroups

/// The systemd cgroup driver's host-side parts: its reading of cgroupsPath, its D-Bus wire
/// format (against messages recorded from another implementation, Python's jeepney), and its
/// mapping of limits to unit properties. The driver itself is proven on a systemd host (vm/).
@Suite("systemd driver: paths, D-Bus, properties")
struct SystemdTests {
    static func hex(_ text: String) -> [UInt8] {
        stride(from: 0, to: text.count, by: 2).map { i in
            let start = text.index(text.startIndex, offsetBy: i)
            return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16)!
        }
    }

    @Test func cgroupsPathsReadAsRuncReadsThem() throws {
        let kube = try SystemdPath(cgroupsPath: "kubepods-burstable-pod1234.slice:cri-containerd:abc", id: "x")
        #expect(kube.slice == "kubepods-burstable-pod1234.slice")
        #expect(kube.unit == "cri-containerd-abc.scope")
        #expect(kube.cgroupPath == "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-abc.scope")
        #expect(try SystemdPath(cgroupsPath: "machine.slice:libpod:c1", id: "x").cgroupPath == "/machine.slice/libpod-c1.scope")
        // Empty parts take runc's defaults; no path at all is skiff's own scope in system.slice.
        #expect(try SystemdPath(cgroupsPath: ":docker:c2", id: "x") == SystemdPath(slice: "system.slice", unit: "docker-c2.scope"))
        #expect(try SystemdPath(cgroupsPath: "system.slice::c3", id: "x").unit == "c3.scope")
        #expect(try SystemdPath(cgroupsPath: nil, id: "web").unit == "skiff-web.scope")
        #expect(try SystemdPath(cgroupsPath: nil, id: "web", defaultSlice: "user.slice").cgroupPath == "/user.slice/skiff-web.scope")
        #expect(try SystemdPath.expand("-.slice") == "/")
    }

    @Test(arguments: [
        ("just/a/path", "is not slice:prefix:name"),
        ("system.slice:x", "is not slice:prefix:name"),
        ("system:skiff:x", "\"system\" is not a slice"),
        ("a--b.slice:skiff:x", "has an empty part between dashes"),
        ("system.slice:skiff:x y", "has characters systemd does not allow"),
        ("system.slice:skiff:", "the name is empty"),
        ("sys$tem.slice:skiff:x", "has characters systemd does not allow"),
        // runc's library makes a slice of such a name; for a container it would be a slice
        // other units could land in (user-0.slice before root logs in), stopped on delete.
        ("system.slice:x:pods-a.slice", "the name is a slice; a container's unit is a scope"),
        (":skiff:user-0.slice", "the name is a slice"),
    ])
    func badPathsAreNamed(_ path: String, _ message: String) {
        do {
            _ = try SystemdPath(cgroupsPath: path, id: "x")
            Issue.record("accepted \(path)")
        } catch {
            #expect(error.description.hasPrefix("linux.cgroupsPath: "), "\(error)")
            #expect(error.description.contains(message), "\(error)")
        }
    }

    /// StartTransientUnit as jeepney serialises it (recorded with serial 7).
    @Test func startTransientUnitIsEncodedAsOtherImplementationsEncodeIt() {
        let recorded = Self.hex(
            "6c0100010801000007000000b600000001016f00190000002f6f72672f667265656465736b746f702f73797374656d64310000000000000002017300200000006f72672e667265656465736b746f702e73797374656d64312e4d616e616765720000000000000000030173001200000053746172745472616e7369656e74556e697400000000000006017300180000006f72672e667265656465736b746f702e73797374656d643100000000000000000801670010737361287376296128736128737629290000000d000000736b6966662d782e73636f7065000000070000007265706c61636500d9000000000000000b0000004465736372697074696f6e00017300002b000000736b69666620636f6e7461696e6572202f73797374656d2e736c6963652f736b6966662d782e73636f7065000000000005000000536c696365000173000000000c00000073797374656d2e736c69636500000000000000000800000044656c6567617465000162000100000000000000040000005049447300026175000000000400000092100000090000004d656d6f72794d6178000174000000000000000000000004000000000b000000416c6c6f776564435055730002617900010000000500000000000000"
        )
        let properties: [(String, DBusValue)] = [
            ("Description", .string("skiff container /system.slice/skiff-x.scope")), ("Slice", .string("system.slice")), ("Delegate", .bool(true)),
            ("PIDs", .uint32s([4242])), ("MemoryMax", .uint64(64 << 20)), ("AllowedCPUs", .bytes([5])),
        ]
        let message = DBusMessage.call(
            serial: 7, destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager", member: "StartTransientUnit",
            [.string("skiff-x.scope"), .string("replace"), .properties(properties), .auxiliaryUnits])
        #expect(message.encoded == recorded)
    }

    @Test func setUnitPropertiesIsEncodedAsOtherImplementationsEncodeIt() {
        let recorded = Self.hex(
            "6c0100016000000008000000ad00000001016f00190000002f6f72672f667265656465736b746f702f73797374656d64310000000000000002017300200000006f72672e667265656465736b746f702e73797374656d64312e4d616e6167657200000000000000000301730011000000536574556e697450726f706572746965730000000000000006017300180000006f72672e667265656465736b746f702e73797374656d64310000000000000000080167000773626128737629000000000d000000736b6966662d782e73636f7065000000010000004000000000000000080000005461736b734d61780001740040000000000000001200000043505551756f7461506572536563555365630001740000000000000090d0030000000000"
        )
        let message = DBusMessage.call(
            serial: 8, destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager", member: "SetUnitProperties",
            [.string("skiff-x.scope"), .bool(true), .properties([("TasksMax", .uint64(64)), ("CPUQuotaPerSecUSec", .uint64(250_000))])])
        #expect(message.encoded == recorded)
    }

    /// JobRemoved as jeepney serialises it: the job and its result are read back.
    @Test func jobRemovedIsRead() throws {
        let recorded = Self.hex(
            "6c04000149000000630000007a00000001016f00190000002f6f72672f667265656465736b746f702f73797374656d64310000000000000002017300200000006f72672e667265656465736b746f702e73797374656d64312e4d616e616765720000000000000000030173000a0000004a6f6252656d6f7665640000000000000801670004756f7373000000000000001f000000200000002f6f72672f667265656465736b746f702f73797374656d64312f6a6f622f3331000000000d000000736b6966662d782e73636f706500000004000000646f6e6500"
        )
        #expect(DBusMessage.length(of: recorded[...]) == recorded.count)
        let signal = try #require(DBusMessage(parsing: recorded[...]))
        #expect(signal.kind == .signal && signal.member == "JobRemoved" && signal.serial == 99)
        #expect(signal.bodyValues == [.uint32(31), .objectPath("/org/freedesktop/systemd1/job/31"), .string("skiff-x.scope"), .string("done")])
    }

    @Test func limitsBecomePropertiesWhereSystemdHasThem() throws {
        let system = CgroupSystem(hierarchies: [
            .init(
                version: .v2, mountPoint: "/sys/fs/cgroup", controllers: ["cpu", "cpuset", "memory", "pids", "io"],
                mountData: "", ownPath: "/")
        ])
        var resources = Spec.Resources(
            memory: .init(limit: 64 << 20), cpu: .init(shares: 1024, quota: 50_000, period: 100_000, cpus: "0-1"),
            pids: .init(limit: 32))
        resources.unified = ["memory.high": "50000000"]
        let plan = try ResourcePlan(resources) { system.hierarchy(for: $0)?.version }
        let (properties, files) = SystemdProperties.split(plan)
        let byName = Dictionary(uniqueKeysWithValues: properties.map { ($0.0, $0.1) })
        #expect(byName["MemoryMax"] == .uint64(64 << 20))
        #expect(byName["TasksMax"] == .uint64(32))
        #expect(byName["CPUWeight"] == .uint64(39))
        #expect(byName["CPUQuotaPerSecUSec"] == .uint64(500_000))
        #expect(byName["CPUQuotaPeriodUSec"] == .uint64(100_000))
        #expect(byName["AllowedCPUs"] == .bytes([0b11]))
        #expect(SystemdProperties.bitmask("0,2-3,9") == [0b1101, 0b10])
        #expect(byName["MemoryHigh"] == .uint64(50_000_000))
        // The exact CPU quota also goes into the delegated cgroup's file.
        #expect(files.map { $0.candidates.first!.file } == ["cpu.max"])
    }
}

@Suite("systemd driver: device properties")
struct SystemdDeviceTests {
    /// runc's mapping: a default of deny is DevicePolicy=strict, each allowed device a
    /// DeviceAllow entry by path, by /proc/devices name for a whole major, `char-*` for all.
    @Test func deviceRulesBecomeAPolicyAndAnAllowList() throws {
        var rules = try DeviceRules([.init(allow: false, access: "rwm")], path: JSONPath("linux.resources.devices"))
        rules.allowStandardDevices(plus: [])
        let devices = NSTemporaryDirectory() + "skiff-proc-devices-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: devices) }
        try "Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n 10 misc\n\nBlock devices:\n  8 sd\n".write(toFile: devices, atomically: true, encoding: .utf8)
        let properties = SystemdProperties.devices(rules, devicesFile: devices)
        #expect(properties.first?.0 == "DevicePolicy" && properties.first?.1 == .string("strict"))
        guard case .stringPairs(let allowed)? = properties.last?.1 else {
            Issue.record("no DeviceAllow")
            return
        }
        #expect(allowed.contains { $0 == ("char-*", "m") } && allowed.contains { $0 == ("block-*", "m") })
        #expect(allowed.contains { $0 == ("/dev/char/1:3", "rwm") })
        #expect(allowed.contains { $0 == ("char-pts", "rwm") })
        #expect(allowed.contains { $0 == ("/dev/char/10:200", "rwm") })
        // Everything allowed: systemd's default policy.
        let open = try DeviceRules([.init(allow: true, access: "rwm")], path: JSONPath("linux.resources.devices"))
        #expect(SystemdProperties.devices(open).map(\.0) == ["DevicePolicy"])
    }
}
