// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffCgroups
import SkiffRuntime
import SkiffSpec
import SkiffSystem

/// pause, resume, update, ps, stats and events.
let resourceCommands: [Command] = [
    Command(name: "pause", summary: "freeze every process of a container", usage: "<container-id>", positionals: 1...1) { args, context in
        try context.runtime.pause(id: args.positionals[0])
        return 0
    },
    Command(name: "resume", summary: "thaw a paused container", usage: "<container-id>", positionals: 1...1) { args, context in
        try context.runtime.resume(id: args.positionals[0])
        return 0
    },
    Command(
        name: "update", summary: "change a running container's resource limits", usage: "<container-id>",
        positionals: 1...1, options: updateOptions
    ) { args, context in
        try context.runtime.update(id: args.positionals[0], resources: try resourcesFrom(args))
        return 0
    },
    Command(
        name: "ps", summary: "list the processes of a container", usage: "<container-id>", positionals: 1...1,
        options: [.value("format", short: "f", "FORMAT", "table or json (default table)")]
    ) { args, context in
        let format = args["format"] ?? "table"
        guard format == "table" || format == "json" else { throw UsageError(description: "--format: expected table or json, got \"\(format)\"") }
        let pids = try context.runtime.processes(id: args.positionals[0])
        if format == "json" {
            print(JSONValue.array(pids.map { .number(String($0)) }).serialized())
        } else {
            print("PID     PPID    CMD")
            for pid in pids { print(ProcessLine(pid: pid).formatted) }
        }
        return 0
    },
    Command(
        name: "stats", summary: "what a container used: CPU time, peak memory, throttling, OOM kills",
        usage: "<container-id>", positionals: 1...1,
        options: [.value("format", short: "f", "FORMAT", "table or json (default table)")]
    ) { args, context in
        let format = args["format"] ?? "table"
        guard format == "table" || format == "json" else { throw UsageError(description: "--format: expected table or json, got \"\(format)\"") }
        let stats = try context.runtime.stats(id: args.positionals[0])
        print(format == "json" ? StatsJSON.usage(stats).serialized(pretty: true) : StatsJSON.table(stats))
        return 0
    },
    Command(
        name: "events", summary: "stream a container's events (oom, and stats every interval) as JSON lines",
        usage: "<container-id>", positionals: 1...1,
        options: [
            .flag("stats", "print the statistics once and exit"),
            .value("interval", "DURATION", "how often to print statistics (default 5s)"),
        ]
    ) { args, context in
        try streamEvents(args, context)
    },
]

let updateOptions: [OptionSpec] = [
    .value("resources", short: "r", "FILE", "the new LinuxResources as JSON, from FILE or - for stdin"),
    .value("memory", "BYTES", "memory limit (e.g. 512m)"),
    .value("memory-reservation", "BYTES", "memory soft limit"),
    .value("memory-swap", "BYTES", "memory plus swap limit (-1: unlimited)"),
    .value("kernel-memory", "BYTES", "ignored (deprecated by the kernel)"),
    .value("kernel-memory-tcp", "BYTES", "ignored (deprecated by the kernel)"),
    .value("cpu-share", "N", "CPU shares (relative weight)"),
    .value("cpu-period", "MICROSECONDS", "CPU CFS period"),
    .value("cpu-quota", "MICROSECONDS", "CPU CFS quota (-1: unlimited)"),
    .value("cpu-burst", "MICROSECONDS", "CPU CFS burst"),
    .value("cpu-rt-period", "MICROSECONDS", "real-time period (cgroup v1)"),
    .value("cpu-rt-runtime", "MICROSECONDS", "real-time runtime (cgroup v1)"),
    .value("cpuset-cpus", "LIST", "CPUs to run on (e.g. 0-3)"),
    .value("cpuset-mems", "LIST", "memory nodes to use"),
    .value("blkio-weight", "N", "block IO weight (10-1000)"),
    .value("pids-limit", "N", "maximum number of processes (-1: unlimited)"),
]

/// `update`'s flags (or --resources) as the OCI LinuxResources they stand for.
func resourcesFrom(_ args: Arguments) throws -> Spec.Resources {
    if let file = args["resources"] {
        let bytes: [UInt8]
        if file == "-" {
            var input: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(STDIN_FILENO, &chunk, chunk.count)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                input.append(contentsOf: chunk[..<n])
            }
            bytes = input
        } else {
            do throws(SystemError) { bytes = try readFile(file) } catch { throw UsageError(description: "--resources \(file): \(error.reason)") }
        }
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch {
            throw UsageError(description: "--resources: line \(error.line), column \(error.column): \(error.message)")
        }
        return try Spec.Resources(jsonValue: value, path: JSONPath("linux.resources"))
    }
    func bytes(_ name: String) throws(UsageError) -> Int64? {
        guard let text = args[name] else { return nil }
        guard let value = parseSize(text) else { throw UsageError(description: "--\(name): \"\(text)\" is not a size (e.g. 512m, 1g, -1)") }
        return value
    }
    func integer<T: FixedWidthInteger>(_ name: String, _ type: T.Type = T.self) throws(UsageError) -> T? {
        guard let text = args[name] else { return nil }
        guard let value = T(text) else { throw UsageError(description: "--\(name): \"\(text)\" is not a valid number") }
        return value
    }
    var resources = Spec.Resources()
    var memory = Spec.Memory(limit: try bytes("memory"), reservation: try bytes("memory-reservation"), swap: try bytes("memory-swap"))
    memory.kernel = try bytes("kernel-memory")
    memory.kernelTCP = try bytes("kernel-memory-tcp")
    if memory != Spec.Memory() { resources.memory = memory }
    var cpu = Spec.CPU(
        shares: try integer("cpu-share"), quota: try integer("cpu-quota"), period: try integer("cpu-period"),
        cpus: args["cpuset-cpus"], mems: args["cpuset-mems"])
    cpu.burst = try integer("cpu-burst")
    cpu.realtimePeriod = try integer("cpu-rt-period")
    cpu.realtimeRuntime = try integer("cpu-rt-runtime")
    if cpu != Spec.CPU() { resources.cpu = cpu }
    if let weight: UInt16 = try integer("blkio-weight") { resources.blockIO = Spec.BlockIO(weight: weight) }
    if let limit: Int64 = try integer("pids-limit") { resources.pids = Spec.Pids(limit: limit) }
    return resources
}

/// "512m", "1G", "1024", "2kb", "-1": bytes, powers of 1024 (as runc reads them).
func parseSize(_ text: String) -> Int64? {
    if text == "-1" { return -1 }
    var digits = Substring(text.lowercased())
    if digits.hasSuffix("b") { digits = digits.dropLast() }
    var multiplier: Int64 = 1
    if let unit = digits.last, let power = ["k": 1, "m": 2, "g": 3, "t": 4][unit] {
        digits = digits.dropLast()
        for _ in 0..<power { multiplier *= 1024 }
    }
    guard let value = Int64(digits), value >= 0 else { return nil }
    let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : product
}

/// `events`: statistics every interval and an `oom` event whenever the kernel OOM-kills in
/// the container, as JSON lines (runc's shape), until the container stops.
func streamEvents(_ args: Arguments, _ context: Context) throws -> Int32 {
    let id = args.positionals[0]
    if args.has("stats") {
        print(StatsJSON.event(id: id, try context.runtime.stats(id: id)).serialized())
        return 0
    }
    guard let interval = parseDuration(args["interval"] ?? "5s"), interval > 0 else {
        throw UsageError(description: "--interval: \"\(args["interval"] ?? "")\" is not a duration (e.g. 5s, 500ms)")
    }
    try context.runtime.events(id: id, interval: interval) { event in
        switch event {
        case .oom: emit(.object([("type", .string("oom")), ("id", .string(id))]))
        case .stats(let stats): emit(StatsJSON.event(id: id, stats))
        }
        return true
    }
    return 0
}

private func emit(_ event: JSONValue) {
    let line = event.serialized() + "\n"
    _ = line.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
}

/// "5s", "500ms", "1m", "2" (seconds).
func parseDuration(_ text: String) -> Double? {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        return Double(text.dropLast(suffix.count)).map { $0 * scale }
    }
    return Double(text)
}

/// One line of `ps`: pid, parent and command line from /proc.
struct ProcessLine {
    var pid: Int32

    var formatted: String {
        let stat = String(decoding: (try? readFile("/proc/\(pid)/stat")) ?? [], as: UTF8.self)
        let ppid = stat.split(separator: ")").last?.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
        let cmdline = ((try? readFile("/proc/\(pid)/cmdline")) ?? []).map { $0 == 0 ? UInt8(ascii: " ") : $0 }
        let command = String(decoding: cmdline, as: UTF8.self).trimmingTrailingSpace
        func pad(_ s: String) -> String { s + String(repeating: " ", count: max(1, 8 - s.count)) }
        return pad(String(pid)) + pad(ppid) + command
    }
}

extension String {
    var trimmingTrailingSpace: String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
