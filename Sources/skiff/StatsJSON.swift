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
                .object([
                    ("usage", .object([("total", n(stats.cpu.total)), ("kernel", n(stats.cpu.kernel)), ("user", n(stats.cpu.user))])),
                    (
                        "throttling",
                        .object([
                            ("periods", n(stats.cpu.periods)), ("throttledPeriods", n(stats.cpu.throttledPeriods)),
                            ("throttledTime", n(stats.cpu.throttledTime)),
                        ])
                    ),
                ])
            ),
            (
                "memory",
                .object([
                    ("usage", .object([("limit", n(memory.limit)), ("usage", n(memory.usage)), ("max", n(memory.max)), ("failcnt", n(memory.failcnt))])),
                    ("swap", .object([("usage", n(memory.swapUsage))])),
                    ("oomKills", n(memory.oomKills)),
                    ("raw", .object(memory.raw.keys.sorted().map { ($0, n(memory.raw[$0]!)) })),
                ])
            ),
            ("pids", .object([("current", n(stats.pids.current)), ("limit", n(stats.pids.limit))])),
            (
                "blkio",
                .object([
                    (
                        "ioServiceBytesRecursive",
                        .array(
                            stats.io.map { entry in
                                .object([("major", n(entry.major)), ("minor", n(entry.minor)), ("op", .string(entry.op)), ("value", n(entry.value))])
                            })
                    )
                ])
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

    /// What a task cost, the way a serverless platform bills it.
    static func usage(_ stats: CgroupStats) -> JSONValue {
        .object([
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
        ])
    }

    static func table(_ stats: CgroupStats) -> String {
        let limit = stats.memory.limit == UInt64.max ? "unlimited" : mebibytes(stats.memory.limit)
        return [
            ("CPU time", "\(seconds(stats.cpu.total)) s (user \(seconds(stats.cpu.user)) s, kernel \(seconds(stats.cpu.kernel)) s)"),
            ("Throttled", "\(seconds(stats.cpu.throttledTime)) s in \(stats.cpu.throttledPeriods) of \(stats.cpu.periods) periods"),
            ("Memory", "\(mebibytes(stats.memory.usage)) now, \(mebibytes(stats.memory.max)) peak, limit \(limit)"),
            ("OOM kills", String(stats.memory.oomKills)),
            ("Processes", "\(stats.pids.current)" + (stats.pids.limit == UInt64.max || stats.pids.limit == 0 ? "" : " of \(stats.pids.limit)")),
        ].map { $0.0 + String(repeating: " ", count: 12 - $0.0.count) + $0.1 }.joined(separator: "\n")
    }

    /// Seconds with microsecond precision, from nanoseconds.
    static func seconds(_ nanoseconds: UInt64) -> String {
        let micro = nanoseconds / 1000
        let fraction = String(micro % 1_000_000)
        return "\(micro / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    static func mebibytes(_ bytes: UInt64) -> String {
        let tenths = bytes * 10 / (1 << 20)
        return "\(tenths / 10).\(tenths % 10) MiB"
    }
}
