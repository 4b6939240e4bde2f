// SPDX-License-Identifier: Apache-2.0
import SkiffCgroups
import SkiffSpec

/// Statistics as runc prints them (`events --stats`), and as a bill (`stats`).
enum StatsJSON {
    static func n(_ value: UInt64) -> JSONValue { .number(String(value)) }

    /// runc's `{"type":"stats","id":…,"data":{cpu, memory, pids, blkio, hugetlb}}`.
    static func event(id: String, _ stats: CgroupStats) -> JSONValue {
        let memory = stats.memory
        let data: JSONValue = .object([
            (
                "cpu",
                .object(
                    [
                        ("usage", .object([("total", n(stats.cpu.total)), ("kernel", n(stats.cpu.kernel)), ("user", n(stats.cpu.user))])),
                        (
                            "throttling",
                            .object([
                                ("periods", n(stats.cpu.periods)), ("throttledPeriods", n(stats.cpu.throttledPeriods)),
                                ("throttledTime", n(stats.cpu.throttledTime)),
                            ])
                        ),
                    ] + psi(stats.cpu.pressure))
            ),
            (
                "memory",
                .object(
                    [
                        ("usage", .object([("limit", n(memory.limit)), ("usage", n(memory.usage)), ("max", n(memory.max)), ("failcnt", n(memory.failcnt))])),
                        ("swap", .object([("usage", n(memory.swapUsage))])),
                        ("oomKills", n(memory.oomKills)),
                        ("raw", .object(memory.raw.keys.sorted().map { ($0, n(memory.raw[$0]!)) })),
                    ] + psi(memory.pressure))
            ),
            ("pids", .object([("current", n(stats.pids.current)), ("limit", n(stats.pids.limit))])),
            (
                "blkio",
                .object(
                    [
                        (
                            "ioServiceBytesRecursive",
                            .array(
                                stats.io.map { entry in
                                    .object([("major", n(entry.major)), ("minor", n(entry.minor)), ("op", .string(entry.op)), ("value", n(entry.value))])
                                })
                        )
                    ] + psi(stats.ioPressure))
            ),
            (
                "hugetlb",
                .object(
                    stats.hugetlb.keys.sorted().map { size in
                        let h = stats.hugetlb[size]!
                        return (size, .object([("usage", n(h.usage)), ("max", n(h.max)), ("failcnt", n(h.failcnt))]))
                    })
            ),
        ])
        return .object([("type", .string("stats")), ("id", .string(id)), ("data", data)])
    }

    /// runc's `psi` member (`{"some": {avg10, avg60, avg300, total}, "full": …}`), absent
    /// where the kernel keeps no pressure for the cgroup: absent, not zero.
    static func psi(_ pressure: CgroupStats.Pressure?) -> [(String, JSONValue)] { pressure.map { [("psi", stalls($0))] } ?? [] }

    static func stalls(_ pressure: CgroupStats.Pressure) -> JSONValue {
        func stall(_ s: CgroupStats.Pressure.Stall) -> JSONValue {
            .object([("avg10", .number(String(s.avg10))), ("avg60", .number(String(s.avg60))), ("avg300", .number(String(s.avg300))), ("total", n(s.total))])
        }
        return .object([("some", stall(pressure.some))] + (pressure.full.map { [("full", stall($0))] } ?? []))
    }

    /// What a task cost, the way a serverless platform bills it.
    static func usage(_ stats: CgroupStats) -> JSONValue {
        let pressures = [("cpu", stats.cpu.pressure), ("memory", stats.memory.pressure), ("io", stats.ioPressure)].compactMap { name, pressure in
            pressure.map { (name, stalls($0)) }
        }
        return .object(
            [
                ("cpuSeconds", .number(seconds(stats.cpu.total))),
                ("userSeconds", .number(seconds(stats.cpu.user))),
                ("kernelSeconds", .number(seconds(stats.cpu.kernel))),
                ("throttledSeconds", .number(seconds(stats.cpu.throttledTime))),
                ("throttledPeriods", n(stats.cpu.throttledPeriods)),
                ("memoryBytes", n(stats.memory.usage)),
                ("peakMemoryBytes", n(stats.memory.max)),
                ("memoryLimitBytes", n(stats.memory.limit)),
                ("oomKills", n(stats.memory.oomKills)),
                ("pids", n(stats.pids.current)),
            ] + (pressures.isEmpty ? [] : [("pressure", .object(pressures))]))
    }

    static func table(_ stats: CgroupStats) -> String {
        // v2 says "max"; v1 says 9223372036854771712 (the largest page count, in bytes).
        let limit = stats.memory.limit >= 1 << 62 ? "unlimited" : mebibytes(stats.memory.limit)
        let rows: [(String, String)] = [
            ("CPU time", "\(seconds(stats.cpu.total)) s (user \(seconds(stats.cpu.user)) s, kernel \(seconds(stats.cpu.kernel)) s)"),
            ("Throttled", "\(seconds(stats.cpu.throttledTime)) s in \(stats.cpu.throttledPeriods) of \(stats.cpu.periods) periods"),
            ("Memory", "\(mebibytes(stats.memory.usage)) now, \(mebibytes(stats.memory.max)) peak, limit \(limit)"),
            ("OOM kills", String(stats.memory.oomKills)),
            ("Processes", "\(stats.pids.current)" + (stats.pids.limit == UInt64.max || stats.pids.limit == 0 ? "" : " of \(stats.pids.limit)")),
        ]
        return (rows + pressureRows(stats)).map { $0.0 + String(repeating: " ", count: 12 - $0.0.count) + $0.1 }.joined(separator: "\n")
    }

    /// "Stalled on cpu: 1.14% (10 s), 0.5% (1 min), 0.1% (5 min)" rows, where the kernel keeps them.
    static func pressureRows(_ stats: CgroupStats) -> [(String, String)] {
        [("CPU stall", stats.cpu.pressure), ("Mem stall", stats.memory.pressure), ("I/O stall", stats.ioPressure)].compactMap { label, pressure in
            pressure.map { p in (label, "\(p.some.avg10)% (10 s), \(p.some.avg60)% (1 min), \(p.some.avg300)% (5 min) some waiting") }
        }
    }

    /// Seconds with microsecond precision, from nanoseconds.
    static func seconds(_ nanoseconds: UInt64) -> String {
        let micro = nanoseconds / 1000
        let fraction = String(micro % 1_000_000)
        return "\(micro / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    static func mebibytes(_ bytes: UInt64) -> String {
        // Whole mebibytes first: bytes * 10 would overflow for a v1 "unlimited" value.
        let tenths = ((bytes & ((1 << 20) - 1)) * 10) >> 20
        return "\(bytes >> 20).\(tenths) MiB"
    }
}
