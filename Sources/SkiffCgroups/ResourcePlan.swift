// SPDX-License-Identifier: Apache-2.0
import SkiffSpec
import SkiffSystem

/// One value to write into one cgroup file.
public struct CgroupWrite: Equatable, Sendable {
    /// Decides the directory: the hierarchy that carries this controller.
    public var controller: String
    /// Tried in order: the first file that exists gets its value (`io.bfq.weight` before
    /// `io.weight`, whose scale differs).
    public var candidates: [(file: String, value: String)]
    /// The JSON path the value came from, for errors.
    public var field: String

    public init(_ controller: String, _ file: String, _ value: String, field: String) {
        self.controller = controller
        self.candidates = [(file, value)]
        self.field = field
    }

    public init(_ controller: String, candidates: [(file: String, value: String)], field: String) {
        self.controller = controller
        self.candidates = candidates
        self.field = field
    }

    /// The controller name of `unified` writes: they go to the v2 directory as they are.
    public static let unified = "<unified>"

    public static func == (a: CgroupWrite, b: CgroupWrite) -> Bool {
        a.controller == b.controller && a.field == b.field
            && a.candidates.map(\.file) == b.candidates.map(\.file) && a.candidates.map(\.value) == b.candidates.map(\.value)
    }
}

/// What `linux.resources` means on this host: the files to write (v2 names where a
/// controller lives on cgroup v2, v1 names where it lives on a v1 hierarchy), the device
/// rules, and warnings for fields that have no effect here. Pure: nothing is written, so
/// bad input is rejected before anything exists.
public struct ResourcePlan: Sendable {
    public var writes: [CgroupWrite] = []
    public var devices: DeviceRules?
    public var warnings: [String] = []

    /// A plan that limits nothing.
    public init() {}

    /// `version(controller)`: where a controller lives, nil when the host lacks it.
    public init(
        _ given: Spec.Resources, path: JSONPath = JSONPath("linux.resources"),
        version: (String) -> CgroupHierarchy.Version?
    ) throws(SpecError) {
        let resources = given.withZerosUnset
        func require(_ controller: String, _ field: String) throws(SpecError) -> CgroupHierarchy.Version {
            guard let v = version(controller) else { throw SpecError(field, "this host has no \(controller) cgroup controller") }
            return v
        }
        if let cpu = resources.cpu { try planCPU(cpu, path.key("cpu"), require) }
        if let memory = resources.memory { try planMemory(memory, path.key("memory"), require) }
        if let pids = resources.pids {
            _ = try require("pids", path["pids"])
            writes.append(CgroupWrite("pids", "pids.max", pids.limit < 0 ? "max" : String(pids.limit), field: path.key("pids")["limit"]))
        }
        if let blockIO = resources.blockIO { try planBlockIO(blockIO, path.key("blockIO"), require) }
        for (i, limit) in (resources.hugepageLimits ?? []).enumerated() {
            let at = path.key("hugepageLimits").index(i)
            guard !limit.pageSize.isEmpty, limit.pageSize.allSatisfy({ $0.isNumber || $0.isLetter }) else {
                throw SpecError(at["pageSize"], "\"\(limit.pageSize)\" is not a page size (e.g. 2MB)")
            }
            let v = try require("hugetlb", at.text)
            writes.append(CgroupWrite("hugetlb", "hugetlb.\(limit.pageSize).\(v == .v2 ? "max" : "limit_in_bytes")", String(limit.limit), field: at["limit"]))
        }
        if let network = resources.network { planNetwork(network, path.key("network"), version) }
        for (device, limits) in (resources.rdma ?? [:]).sorted(by: { $0.key < $1.key }) {
            _ = try require("rdma", path.key("rdma")[device])
            var parts = [device]
            if let handles = limits.hcaHandles { parts.append("hca_handle=\(handles)") }
            if let objects = limits.hcaObjects { parts.append("hca_object=\(objects)") }
            writes.append(CgroupWrite("rdma", "rdma.max", parts.joined(separator: " "), field: path.key("rdma")[device]))
        }
        for key in (resources.unified ?? [:]).keys.sorted() {
            try planUnified(key, resources.unified![key]!, path.key("unified"))
        }
        if let rules = resources.devices {
            devices = try DeviceRules(rules, path: path.key("devices"))
        }
    }

    // MARK: cpu

    /// runc's and crun's conversion of cgroup v1 shares [2, 262144] to v2 weight [1, 10000].
    public static func weight(fromShares shares: UInt64) -> UInt64 {
        guard shares > 0 else { return 0 }
        let clamped = min(max(shares, 2), 262_144)
        return 1 + ((clamped - 2) * 9999) / 262_142
    }

    private mutating func planCPU(_ cpu: Spec.CPU, _ path: JSONPath, _ require: (String, String) throws(SpecError) -> CgroupHierarchy.Version) throws(SpecError) {
        let needsCPU =
            cpu.shares != nil || cpu.quota != nil || cpu.period != nil || cpu.burst != nil
            || cpu.idle != nil || cpu.realtimeRuntime != nil || cpu.realtimePeriod != nil
        if needsCPU {
            let v = try require("cpu", path.text)
            if let shares = cpu.shares {
                if v == .v2 {
                    writes.append(CgroupWrite("cpu", "cpu.weight", String(Self.weight(fromShares: shares)), field: path["shares"]))
                } else {
                    writes.append(CgroupWrite("cpu", "cpu.shares", String(shares), field: path["shares"]))
                }
            }
            if cpu.quota != nil || cpu.period != nil {
                if v == .v2 {
                    // An update that names only one of the two keeps the other (see CgroupWriter).
                    let quota = cpu.quota.map { $0 < 0 ? "max" : String($0) } ?? ""
                    let period = cpu.period.map(String.init) ?? ""
                    writes.append(CgroupWrite("cpu", "cpu.max", "\(quota) \(period)", field: path["quota"]))
                } else {
                    // The period first: a quota is checked against the period in force.
                    if let period = cpu.period { writes.append(CgroupWrite("cpu", "cpu.cfs_period_us", String(period), field: path["period"])) }
                    if let quota = cpu.quota { writes.append(CgroupWrite("cpu", "cpu.cfs_quota_us", String(quota < 0 ? -1 : quota), field: path["quota"])) }
                }
            }
            if let burst = cpu.burst {
                writes.append(CgroupWrite("cpu", v == .v2 ? "cpu.max.burst" : "cpu.cfs_burst_us", String(burst), field: path["burst"]))
            }
            if let idle = cpu.idle {
                guard idle == 0 || idle == 1 else { throw SpecError(path["idle"], "must be 0 or 1, got \(idle)") }
                writes.append(CgroupWrite("cpu", "cpu.idle", String(idle), field: path["idle"]))
            }
            if cpu.realtimeRuntime != nil || cpu.realtimePeriod != nil {
                guard v == .v1 else { throw SpecError(path["realtimeRuntime"], "real-time CPU limits are not supported on cgroup v2") }
                if let period = cpu.realtimePeriod { writes.append(CgroupWrite("cpu", "cpu.rt_period_us", String(period), field: path["realtimePeriod"])) }
                if let runtime = cpu.realtimeRuntime { writes.append(CgroupWrite("cpu", "cpu.rt_runtime_us", String(runtime), field: path["realtimeRuntime"])) }
            }
        }
        if let cpus = cpu.cpus, !cpus.isEmpty {
            _ = try require("cpuset", path["cpus"])
            try CPUList.validate(cpus, field: path["cpus"], available: CPUList.online("/sys/devices/system/cpu/online"), what: "CPU")
            writes.append(CgroupWrite("cpuset", "cpuset.cpus", cpus, field: path["cpus"]))
        }
        if let mems = cpu.mems, !mems.isEmpty {
            _ = try require("cpuset", path["mems"])
            try CPUList.validate(mems, field: path["mems"], available: CPUList.online("/sys/devices/system/node/online"), what: "memory node")
            writes.append(CgroupWrite("cpuset", "cpuset.mems", mems, field: path["mems"]))
        }
    }

    // MARK: memory

    private mutating func planMemory(_ memory: Spec.Memory, _ path: JSONPath, _ require: (String, String) throws(SpecError) -> CgroupHierarchy.Version) throws(SpecError)
    {
        if memory.kernel != nil { warnings.append("\(path["kernel"]): kernel memory limits are deprecated by the kernel; ignored") }
        if memory.kernelTCP != nil { warnings.append("\(path["kernelTCP"]): kernel TCP memory limits are deprecated; ignored") }
        if memory.useHierarchy != nil { warnings.append("\(path["useHierarchy"]): hierarchy is always on; ignored") }
        let limit = memory.limit ?? 0
        let swap = memory.swap ?? 0
        let needsMemory = limit != 0 || swap != 0 || memory.reservation != nil || memory.swappiness != nil || memory.disableOOMKiller == true
        guard needsMemory else { return }
        let v = try require("memory", path.text)
        // OCI's swap is memory+swap (v1's memsw); v2's memory.swap.max is swap alone.
        if swap > 0 {
            guard limit > 0 else { throw SpecError(path["swap"], "needs memory.limit (swap is memory+swap)") }
            guard swap >= limit else { throw SpecError(path["swap"], "must be at least memory.limit (\(limit)): it counts memory+swap, got \(swap)") }
        }
        if swap < -1 { throw SpecError(path["swap"], "must be positive (or -1 for no limit), got \(swap)") }
        if limit < -1 { throw SpecError(path["limit"], "must be positive (or -1 for no limit), got \(limit)") }
        if v == .v2 {
            if limit != 0 { writes.append(CgroupWrite("memory", "memory.max", limit < 0 ? "max" : String(limit), field: path["limit"])) }
            if let reservation = memory.reservation {
                writes.append(CgroupWrite("memory", "memory.low", reservation < 0 ? "max" : String(reservation), field: path["reservation"]))
            }
            if swap == -1 {
                writes.append(CgroupWrite("memory", "memory.swap.max", "max", field: path["swap"]))
            } else if swap > 0 {
                writes.append(CgroupWrite("memory", "memory.swap.max", String(swap - limit), field: path["swap"]))
            }
            if memory.swappiness != nil { warnings.append("\(path["swappiness"]): cgroup v2 has no per-cgroup swappiness; ignored") }
            if memory.disableOOMKiller == true { warnings.append("\(path["disableOOMKiller"]): cgroup v2 cannot disable the OOM killer; ignored") }
        } else {
            if limit != 0 { writes.append(CgroupWrite("memory", "memory.limit_in_bytes", String(limit < 0 ? -1 : limit), field: path["limit"])) }
            if let reservation = memory.reservation {
                writes.append(CgroupWrite("memory", "memory.soft_limit_in_bytes", String(reservation < 0 ? -1 : reservation), field: path["reservation"]))
            }
            if swap != 0 { writes.append(CgroupWrite("memory", "memory.memsw.limit_in_bytes", String(swap), field: path["swap"])) }
            if let swappiness = memory.swappiness {
                guard swappiness <= 100 else { throw SpecError(path["swappiness"], "must be between 0 and 100, got \(swappiness)") }
                writes.append(CgroupWrite("memory", "memory.swappiness", String(swappiness), field: path["swappiness"]))
            }
            if memory.disableOOMKiller == true { writes.append(CgroupWrite("memory", "memory.oom_control", "1", field: path["disableOOMKiller"])) }
        }
    }

    // MARK: io

    /// runc's conversion of blkio weight [10, 1000] to io.weight [1, 10000].
    public static func ioWeight(fromBlkioWeight weight: UInt16) -> UInt64 {
        1 + (UInt64(max(weight, 10)) - 10) * 9999 / 990
    }

    private mutating func planBlockIO(_ io: Spec.BlockIO, _ path: JSONPath, _ require: (String, String) throws(SpecError) -> CgroupHierarchy.Version) throws(SpecError) {
        guard let isV2 = try version(io: io, path, require) else { return }
        let controller = isV2 ? "io" : "blkio"
        if let weight = io.weight {
            guard (10...1000).contains(weight) else { throw SpecError(path["weight"], "must be between 10 and 1000, got \(weight)") }
            writes.append(
                isV2
                    ? CgroupWrite(
                        controller, candidates: [("io.bfq.weight", String(weight)), ("io.weight", String(Self.ioWeight(fromBlkioWeight: weight)))], field: path["weight"])
                    : CgroupWrite(controller, candidates: [("blkio.weight", String(weight)), ("blkio.bfq.weight", String(weight))], field: path["weight"]))
        }
        if let leaf = io.leafWeight {
            if isV2 {
                warnings.append("\(path["leafWeight"]): cgroup v2 has no leaf weight; ignored")
            } else {
                writes.append(CgroupWrite(controller, "blkio.leaf_weight", String(leaf), field: path["leafWeight"]))
            }
        }
        for (i, device) in (io.weightDevice ?? []).enumerated() {
            guard let weight = device.weight else { continue }
            let at = path.key("weightDevice").index(i)
            let id = "\(device.major):\(device.minor)"
            writes.append(
                isV2
                    ? CgroupWrite(
                        controller, candidates: [("io.bfq.weight", "\(id) \(weight)"), ("io.weight", "\(id) \(Self.ioWeight(fromBlkioWeight: weight))")], field: at.text)
                    : CgroupWrite(controller, candidates: [("blkio.weight_device", "\(id) \(weight)"), ("blkio.bfq.weight_device", "\(id) \(weight)")], field: at.text))
        }
        let throttles: [(String, [Spec.ThrottleDevice]?, String, String)] = [
            ("throttleReadBpsDevice", io.throttleReadBpsDevice, "rbps", "blkio.throttle.read_bps_device"),
            ("throttleWriteBpsDevice", io.throttleWriteBpsDevice, "wbps", "blkio.throttle.write_bps_device"),
            ("throttleReadIOPSDevice", io.throttleReadIOPSDevice, "riops", "blkio.throttle.read_iops_device"),
            ("throttleWriteIOPSDevice", io.throttleWriteIOPSDevice, "wiops", "blkio.throttle.write_iops_device"),
        ]
        for (name, devices, key, v1File) in throttles {
            for (i, device) in (devices ?? []).enumerated() {
                let id = "\(device.major):\(device.minor)"
                let field = path.key(name)[i]
                writes.append(
                    isV2
                        ? CgroupWrite(controller, "io.max", "\(id) \(key)=\(device.rate == 0 ? "max" : String(device.rate))", field: field)
                        : CgroupWrite(controller, v1File, "\(id) \(device.rate)", field: field))
            }
        }
    }

    /// nil when blockIO sets nothing; else whether the io controller is on v2.
    private func version(io: Spec.BlockIO, _ path: JSONPath, _ require: (String, String) throws(SpecError) -> CgroupHierarchy.Version) throws(SpecError) -> Bool? {
        let empty =
            io.weight == nil && io.leafWeight == nil && (io.weightDevice ?? []).isEmpty
            && (io.throttleReadBpsDevice ?? []).isEmpty && (io.throttleWriteBpsDevice ?? []).isEmpty
            && (io.throttleReadIOPSDevice ?? []).isEmpty && (io.throttleWriteIOPSDevice ?? []).isEmpty
        if empty { return nil }
        // v2 calls it io; v1 calls it blkio.
        if let v = try? require("io", path.text), v == .v2 { return true }
        _ = try require("blkio", path.text)
        return false
    }

    // MARK: network, unified

    private mutating func planNetwork(_ network: Spec.Network, _ path: JSONPath, _ version: (String) -> CgroupHierarchy.Version?) {
        if let classID = network.classID {
            if version("net_cls") == .v1 {
                writes.append(CgroupWrite("net_cls", "net_cls.classid", String(classID), field: path["classID"]))
            } else {
                warnings.append("\(path["classID"]): no net_cls controller (cgroup v2 has none); ignored")
            }
        }
        for (i, priority) in (network.priorities ?? []).enumerated() {
            if version("net_prio") == .v1 {
                writes.append(CgroupWrite("net_prio", "net_prio.ifpriomap", "\(priority.name) \(priority.priority)", field: path.key("priorities")[i]))
            } else {
                warnings.append("\(path.key("priorities")[i]): no net_prio controller (cgroup v2 has none); ignored")
            }
        }
    }

    /// Control files a config must never write (they move processes, kill, or reshape the tree).
    static func isControlFile(_ name: String) -> Bool { name.hasPrefix("cgroup.") }

    private mutating func planUnified(_ key: String, _ value: String, _ path: JSONPath) throws(SpecError) {
        let field = path[key]
        if key.isEmpty || key.contains("/") || key == "." || key == ".." || key.contains("..") {
            throw SpecError(field, "not a cgroup file name")
        }
        if Self.isControlFile(key) { throw SpecError(field, "\(key) is a control file, not a resource") }
        guard let dot = key.firstIndex(of: "."), dot != key.startIndex else {
            throw SpecError(field, "not a cgroup file name (expected controller.file)")
        }
        // Written verbatim into the v2 directory; the file must exist there (checked when writing).
        writes.append(CgroupWrite(CgroupWrite.unified, key, value, field: field))
    }
}

/// CPU and memory-node lists as cpuset takes them: "0-3,7".
extension CPUList {
    static func online(_ file: String) -> Set<Int>? {
        CgroupFiles.read(file).flatMap { parse($0, maximum: maximumKernelCPU) }.map(Set.init)
    }

    static func validate(_ list: String, field: String, available: Set<Int>?, what: String) throws(SpecError) {
        guard let wanted = parse(list, maximum: maximumKernelCPU).map(Set.init) else {
            throw SpecError(field, "\"\(list)\" is not a list like \"0-3,7\" (0 to \(maximumKernelCPU))")
        }
        guard let available else { return }
        let missing = wanted.subtracting(available).sorted()
        if let first = missing.first {
            throw SpecError(field, "\(what) \(first) does not exist on this host (online: \(available.sorted().map(String.init).joined(separator: ",")))")
        }
    }
}
