// SPDX-License-Identifier: Apache-2.0
import SkiffSpec
import SkiffSystem

/// The limits of a `ResourcePlan` as systemd unit properties, where systemd has one (runc's
/// mapping): systemd then keeps them, and reapplies them, as its own. What systemd has no
/// property for (io.max, hugetlb, most of `unified`) stays a file to write into the scope's
/// cgroup, which is delegated to skiff (`Delegate=yes`).
enum SystemdProperties {
    /// (properties, the writes left for files).
    static func split(_ plan: ResourcePlan) -> (properties: [(String, DBusValue)], files: [CgroupWrite]) {
        var properties: [(String, DBusValue)] = []
        var files: [CgroupWrite] = []
        for write in plan.writes {
            let file = write.candidates.last?.file ?? ""
            let value = write.candidates.last?.value ?? ""
            switch (write.controller, file) {
            case ("cpu", "cpu.weight"): if let v = UInt64(value) { properties.append(("CPUWeight", .uint64(v))) } else { files.append(write) }
            case ("cpu", "cpu.max"):
                let parts = value.split(separator: " ").map(String.init)
                let period = parts.count > 1 ? UInt64(parts[1]) : nil
                if let period, period > 0 { properties.append(("CPUQuotaPeriodUSec", .uint64(period))) }
                if parts.first == "max" {
                    properties.append(("CPUQuotaPerSecUSec", .uint64(UInt64.max)))
                } else if let quota = parts.first.flatMap({ UInt64($0) }) {
                    // systemd counts quota per second; it rounds to 10 ms, so at least 10 ms.
                    let perSecond = quota * 1_000_000 / (period ?? 100_000)
                    properties.append(("CPUQuotaPerSecUSec", .uint64(max(perSecond / 10_000 * 10_000, 10_000))))
                }
                // The exact quota goes in the file too: systemd's rounding must not loosen it.
                files.append(write)
            case ("memory", "memory.max"): properties.append(("MemoryMax", .uint64(limit(value))))
            case ("memory", "memory.low"): properties.append(("MemoryLow", .uint64(limit(value))))
            case ("memory", "memory.swap.max"): properties.append(("MemorySwapMax", .uint64(limit(value))))
            case ("pids", "pids.max"): properties.append(("TasksMax", .uint64(limit(value))))
            case ("cpuset", "cpuset.cpus"): properties.append(("AllowedCPUs", .bytes(bitmask(value))))
            case ("cpuset", "cpuset.mems"): properties.append(("AllowedMemoryNodes", .bytes(bitmask(value))))
            case ("io", "io.weight") where !value.contains(" "):
                if let v = UInt64(value) { properties.append(("IOWeight", .uint64(v))) } else { files.append(write) }
            case (CgroupWrite.unified, "memory.high"): properties.append(("MemoryHigh", .uint64(limit(value))))
            default: files.append(write)
            }
        }
        return (properties, files)
    }

    /// Device rules as systemd's DevicePolicy and DeviceAllow (runc's mapping): a default of
    /// deny is `strict`, and each allowed device an entry — `/dev/char/1:3` for one device,
    /// `char-<name>` (from /proc/devices) for a whole major, `char-*` for all. Rules that deny
    /// within an allowed range cannot be said to systemd; skiff's own device program, attached
    /// in the delegated scope, enforces every rule exactly (both must allow).
    static func devices(_ rules: DeviceRules?, devicesFile: String = "/proc/devices") -> [(String, DBusValue)] {
        guard let rules, !rules.defaultAllow else { return [("DevicePolicy", .string("auto"))] }
        let names = majorNames(String(decoding: (try? readFile(devicesFile)) ?? [], as: UTF8.self))
        var allow: [(String, String)] = []
        for rule in rules.rules where rule.allow {
            let kind = rule.type == "b" ? "block" : "char"
            let types = rule.type == "a" ? ["char", "block"] : [kind]
            for type in types {
                switch (rule.major, rule.minor) {
                case (let major?, let minor?): allow.append(("/dev/\(type)/\(major):\(minor)", rule.access))
                case (let major?, nil):
                    if let name = names[type]?[major] { allow.append(("\(type)-\(name)", rule.access)) }
                case (nil, _): allow.append(("\(type)-*", rule.access))
                }
            }
        }
        return [("DevicePolicy", .string("strict")), ("DeviceAllow", .stringPairs(allow))]
    }

    /// /proc/devices as type -> major -> name ("Character devices:" then "Block devices:").
    static func majorNames(_ text: String) -> [String: [Int64: String]] {
        var names: [String: [Int64: String]] = [:]
        var section = "char"
        for line in text.split(separator: "\n") {
            if line.hasPrefix("Character") {
                section = "char"
                continue
            }
            if line.hasPrefix("Block") {
                section = "block"
                continue
            }
            let fields = line.split(separator: " ")
            if fields.count == 2, let major = Int64(fields[0]) { names[section, default: [:]][major] = String(fields[1]) }
        }
        return names
    }

    /// "max" is systemd's infinity.
    static func limit(_ value: String) -> UInt64 { value == "max" ? UInt64.max : UInt64(value) ?? UInt64.max }

    /// "0-2,5" as systemd's CPU set: a little-endian bitmask, bit N for CPU N.
    static func bitmask(_ list: String) -> [UInt8] {
        guard let set = CPUList.parse(list, maximum: CPUList.maximumKernelCPU), let highest = set.last else { return [] }
        var bytes = [UInt8](repeating: 0, count: highest / 8 + 1)
        for cpu in set { bytes[cpu / 8] |= 1 << UInt8(cpu % 8) }
        return bytes
    }

    /// What every scope skiff starts has: its slice, the container's first process, the
    /// cgroup delegated to skiff (it writes files and attaches device programs there), and
    /// accounting on, so stats have something to read.
    static func scope(slice: String, pid: Int32, description: String) -> [(String, DBusValue)] {
        [
            ("Description", .string(description)), ("Slice", .string(slice)), ("Delegate", .bool(true)),
            ("PIDs", .uint32s([UInt32(pid)])), ("DefaultDependencies", .bool(false)),
            ("MemoryAccounting", .bool(true)), ("CPUAccounting", .bool(true)), ("TasksAccounting", .bool(true)),
            ("IOAccounting", .bool(true)),
        ]
    }
}
