// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSystem

/// What a container used, read from the kernel's own counters (v2 or v1 files). Times are
/// nanoseconds, sizes bytes, as runc reports them.
public struct CgroupStats: Sendable, Equatable {
    /// Pressure stall information (a cgroup v2 `*.pressure` file): the share of time some
    /// (or all, `full`) of the cgroup's tasks waited for the resource, averaged over 10, 60
    /// and 300 seconds (percent), and the total wait in microseconds.
    public struct Pressure: Sendable, Equatable {
        public struct Stall: Sendable, Equatable {
            public var avg10: Double = 0
            public var avg60: Double = 0
            public var avg300: Double = 0
            public var total: UInt64 = 0
        }

        public var some = Stall()
        /// nil where the kernel does not count it (cpu before Linux 5.13).
        public var full: Stall?

        /// From the file's text ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and a
        /// "full" line); nil if it has no "some" line.
        init?(_ text: String) {
            var some: Stall?
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard let kind = fields.first else { continue }
                var stall = Stall()
                for field in fields.dropFirst() {
                    let pair = field.split(separator: "=", maxSplits: 1)
                    guard pair.count == 2 else { continue }
                    switch pair[0] {
                    case "avg10": stall.avg10 = Double(pair[1]) ?? 0
                    case "avg60": stall.avg60 = Double(pair[1]) ?? 0
                    case "avg300": stall.avg300 = Double(pair[1]) ?? 0
                    case "total": stall.total = UInt64(pair[1]) ?? 0
                    default: break
                    }
                }
                if kind == "some" { some = stall } else if kind == "full" { full = stall }
            }
            guard let some else { return nil }
            self.some = some
        }
    }

    public struct CPU: Sendable, Equatable {
        public var total: UInt64 = 0
        public var user: UInt64 = 0
        public var kernel: UInt64 = 0
        public var periods: UInt64 = 0
        public var throttledPeriods: UInt64 = 0
        public var throttledTime: UInt64 = 0
        /// nil where the kernel keeps none for the cgroup (cgroup v1 only, or PSI off).
        public var pressure: Pressure?
    }

    public struct Memory: Sendable, Equatable {
        public var usage: UInt64 = 0
        /// The peak (v2 memory.peak, v1 max_usage_in_bytes); 0 where the kernel has none.
        public var max: UInt64 = 0
        public var limit: UInt64 = 0
        public var failcnt: UInt64 = 0
        public var swapUsage: UInt64 = 0
        public var oomKills: UInt64 = 0
        public var raw: [String: UInt64] = [:]
        public var pressure: Pressure?
    }

    public struct Pids: Sendable, Equatable {
        public var current: UInt64 = 0
        public var limit: UInt64 = 0
    }

    public struct IOEntry: Sendable, Equatable {
        public var major: UInt64
        public var minor: UInt64
        public var op: String
        public var value: UInt64
    }

    public struct Hugetlb: Sendable, Equatable {
        public var usage: UInt64 = 0
        public var max: UInt64 = 0
        public var failcnt: UInt64 = 0
    }

    public var cpu = CPU()
    public var memory = Memory()
    public var pids = Pids()
    public var io: [IOEntry] = []
    public var ioPressure: CgroupStats.Pressure?
    public var hugetlb: [String: Hugetlb] = [:]
}

extension CgroupfsDriver {
    /// What the kernel counts for the cgroup, from whichever hierarchy carries each controller.
    public func stats(_ cgroup: ContainerCgroup) -> CgroupStats { CgroupStatsReader(cgroup: cgroup).read() }
}

/// Reads a container's cgroup files into `CgroupStats`.
private struct CgroupStatsReader {
    typealias Directory = ContainerCgroup.Directory
    let cgroup: ContainerCgroup

    func directory(for controller: String) -> Directory? { cgroup.directory(for: controller) }
    var unifiedDirectory: String? { cgroup.unifiedDirectory }

    func read() -> CgroupStats {
        var stats = CgroupStats()
        if let d = directory(for: "cpu") ?? directory(for: "cpuacct") ?? unifiedDirectory.map({ Directory(path: $0, version: .v2, controllers: []) }) {
            readCPU(into: &stats, d)
        }
        if let d = directory(for: "cpuacct"), d.version == .v1 { readCPUAccounting(into: &stats, d.path) }
        if let d = directory(for: "memory") { readMemory(into: &stats, d) }
        if let d = directory(for: "pids") {
            stats.pids.current = number(d.path + "/pids.current")
            stats.pids.limit = number(d.path + "/pids.max")
        }
        if let d = directory(for: "io") ?? directory(for: "blkio") { readIO(into: &stats, d) }
        if let d = directory(for: "hugetlb") { readHugetlb(into: &stats, d) }
        // PSI is the v2 hierarchy's own, whichever controllers it has: on a hybrid host the
        // container's tasks are counted in their unified cgroup too.
        if let unified = unifiedDirectory {
            func pressure(_ resource: String) -> CgroupStats.Pressure? { CgroupFiles.read("\(unified)/\(resource).pressure").flatMap(CgroupStats.Pressure.init) }
            stats.cpu.pressure = pressure("cpu")
            stats.memory.pressure = pressure("memory")
            stats.ioPressure = pressure("io")
        }
        return stats
    }

    private func readCPU(into stats: inout CgroupStats, _ d: Directory) {
        let cpuStat = keyed(d.path + "/cpu.stat")
        stats.cpu.periods = cpuStat["nr_periods"] ?? 0
        stats.cpu.throttledPeriods = cpuStat["nr_throttled"] ?? 0
        if d.version == .v2 {
            stats.cpu.total = (cpuStat["usage_usec"] ?? 0) * 1000
            stats.cpu.user = (cpuStat["user_usec"] ?? 0) * 1000
            stats.cpu.kernel = (cpuStat["system_usec"] ?? 0) * 1000
            stats.cpu.throttledTime = (cpuStat["throttled_usec"] ?? 0) * 1000
        } else {
            stats.cpu.throttledTime = cpuStat["throttled_time"] ?? 0
        }
    }

    private func readCPUAccounting(into stats: inout CgroupStats, _ path: String) {
        stats.cpu.total = number(path + "/cpuacct.usage")
        if CgroupPath.exists(path + "/cpuacct.usage_user") {
            stats.cpu.user = number(path + "/cpuacct.usage_user")
            stats.cpu.kernel = number(path + "/cpuacct.usage_sys")
        } else {
            // cpuacct.stat counts USER_HZ ticks.
            let ticks = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
            let stat = keyed(path + "/cpuacct.stat")
            stats.cpu.user = (stat["user"] ?? 0) * 1_000_000_000 / ticks
            stats.cpu.kernel = (stat["system"] ?? 0) * 1_000_000_000 / ticks
        }
    }

    private func readMemory(into stats: inout CgroupStats, _ d: Directory) {
        stats.memory.raw = keyed(d.path + "/memory.stat")
        if d.version == .v2 {
            stats.memory.usage = number(d.path + "/memory.current")
            stats.memory.max = number(d.path + "/memory.peak")
            stats.memory.limit = number(d.path + "/memory.max")
            stats.memory.swapUsage = number(d.path + "/memory.swap.current")
            let events = keyed(d.path + "/memory.events")
            stats.memory.oomKills = events["oom_kill"] ?? 0
            stats.memory.failcnt = events["max"] ?? 0
        } else {
            stats.memory.usage = number(d.path + "/memory.usage_in_bytes")
            stats.memory.max = number(d.path + "/memory.max_usage_in_bytes")
            stats.memory.limit = number(d.path + "/memory.limit_in_bytes")
            stats.memory.failcnt = number(d.path + "/memory.failcnt")
            stats.memory.swapUsage = number(d.path + "/memory.memsw.usage_in_bytes")
            stats.memory.oomKills = keyed(d.path + "/memory.oom_control")["oom_kill"] ?? 0
        }
    }

    private func readIO(into stats: inout CgroupStats, _ d: Directory) {
        if d.version == .v2 {
            // "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"
            for line in (CgroupFiles.read(d.path + "/io.stat") ?? "").split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard let (major, minor) = deviceNumbers(fields.first) else { continue }
                for field in fields.dropFirst() {
                    let kv = field.split(separator: "=")
                    guard kv.count == 2, let value = UInt64(kv[1]) else { continue }
                    let op = ["rbytes": "Read", "wbytes": "Write", "rios": "ReadIOs", "wios": "WriteIOs"][String(kv[0])] ?? String(kv[0])
                    stats.io.append(.init(major: major, minor: minor, op: op, value: value))
                }
            }
        } else {
            // "8:0 Read 4096"
            for line in (CgroupFiles.read(d.path + "/blkio.throttle.io_service_bytes") ?? "").split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count == 3, let (major, minor) = deviceNumbers(fields.first), let value = UInt64(fields[2]) else { continue }
                stats.io.append(.init(major: major, minor: minor, op: String(fields[1]), value: value))
            }
        }
    }

    private func readHugetlb(into stats: inout CgroupStats, _ d: Directory) {
        var sizes = Set<String>()
        for name in listDirectory(d.path) {
            let parts = name.split(separator: ".")
            if parts.count >= 3, parts[0] == "hugetlb", !parts[1].contains("_") { sizes.insert(String(parts[1])) }
        }
        for size in sizes {
            let base = d.path + "/hugetlb.\(size)."
            if d.version == .v2 {
                stats.hugetlb[size] = .init(usage: number(base + "current"), max: 0, failcnt: keyed(base + "events")["max"] ?? 0)
            } else {
                stats.hugetlb[size] = .init(usage: number(base + "usage_in_bytes"), max: number(base + "max_usage_in_bytes"), failcnt: number(base + "failcnt"))
            }
        }
    }

    private func deviceNumbers(_ field: Substring?) -> (UInt64, UInt64)? {
        guard let parts = field?.split(separator: ":"), parts.count == 2, let major = UInt64(parts[0]), let minor = UInt64(parts[1]) else { return nil }
        return (major, minor)
    }

    /// A single-number file; "max" (no limit) reads as UInt64.max.
    private func number(_ file: String) -> UInt64 {
        let text = (CgroupFiles.read(file) ?? "").trimmingWhitespace
        return text == "max" ? UInt64.max : UInt64(text) ?? (Int64(text).map { $0 < 0 ? UInt64.max : UInt64($0) } ?? 0)
    }

    /// "key value" lines (cpu.stat, memory.stat, memory.events).
    private func keyed(_ file: String) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in (CgroupFiles.read(file) ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = UInt64(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }
}
