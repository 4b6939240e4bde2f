import SkiffSpec

/// Writes `linux.resources` into the files of whichever hierarchy carries each controller:
/// v2 names (`memory.max`, `cpu.max`, `pids.max`) or their v1 equivalents.
struct ResourceWriter {
    var cgroup: ContainerCgroup

    func apply(_ resources: Spec.Resources) throws(CgroupError) {
        if let memory = resources.memory { try apply(memory) }
        if let cpu = resources.cpu { try apply(cpu) }
        if let pids = resources.pids { try apply(pids) }
    }

    private func write(_ controller: String, v2 v2File: String, v1 v1File: String, _ value: String) throws(CgroupError) {
        guard let directory = cgroup.directory(for: controller) else {
            throw CgroupError("setting \(controller) limits:", path: "no \(controller) controller", reason: "not available on this host")
        }
        let file = directory.version == "v2" ? v2File : v1File
        try CgroupFiles.write(value, to: directory.path + "/" + file)
    }

    private func apply(_ memory: Spec.Memory) throws(CgroupError) {
        guard let limit = memory.limit, limit != 0 else { return }
        let isV2 = cgroup.directory(for: "memory")?.version == "v2"
        try write("memory", v2: "memory.max", v1: "memory.limit_in_bytes", limit < 0 ? (isV2 ? "max" : "-1") : String(limit))
    }

    private func apply(_ cpu: Spec.CPU) throws(CgroupError) {
        guard cpu.quota != nil || cpu.period != nil else { return }
        guard let directory = cgroup.directory(for: "cpu") else {
            throw CgroupError("setting cpu limits:", path: "no cpu controller", reason: "not available on this host")
        }
        let quota = cpu.quota ?? -1
        if directory.version == "v2" {
            let period = cpu.period ?? 100_000
            try CgroupFiles.write("\(quota < 0 ? "max" : String(quota)) \(period)", to: directory.path + "/cpu.max")
        } else {
            // The period first: a quota below the current period is otherwise rejected.
            if let period = cpu.period { try CgroupFiles.write(String(period), to: directory.path + "/cpu.cfs_period_us") }
            try CgroupFiles.write(String(quota < 0 ? -1 : quota), to: directory.path + "/cpu.cfs_quota_us")
        }
    }

    private func apply(_ pids: Spec.Pids) throws(CgroupError) {
        guard pids.limit != 0 else { return }
        try write("pids", v2: "pids.max", v1: "pids.max", pids.limit < 0 ? "max" : String(pids.limit))
    }
}
