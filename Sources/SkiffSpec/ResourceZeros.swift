// SPDX-License-Identifier: Apache-2.0
extension Spec.Resources {
    /// The resources as runc reads them: a 0 in a field whose 0 the kernel would take as a
    /// real value (a period of 0, a weight of 0, a reservation of 0) means "not set". Docker
    /// writes 0 into every such field it does not set, in config.json and in `update`, so
    /// this is what makes its configs run. Fields where 0 is a meaningful limit (a hugepage
    /// limit, a throttle rate, a CPU burst) keep it.
    public var withZerosUnset: Spec.Resources {
        var resources = self
        if var memory = resources.memory {
            if memory.limit == 0 { memory.limit = nil }
            if memory.reservation == 0 { memory.reservation = nil }
            if memory.swap == 0 { memory.swap = nil }
            if memory.kernel == 0 { memory.kernel = nil }
            if memory.kernelTCP == 0 { memory.kernelTCP = nil }
            // Go's uint64(-1), which some clients send for "default".
            if memory.swappiness == UInt64.max { memory.swappiness = nil }
            resources.memory = memory
        }
        if var cpu = resources.cpu {
            if cpu.shares == 0 { cpu.shares = nil }
            if cpu.quota == 0 { cpu.quota = nil }
            if cpu.period == 0 { cpu.period = nil }
            if cpu.realtimeRuntime == 0 { cpu.realtimeRuntime = nil }
            if cpu.realtimePeriod == 0 { cpu.realtimePeriod = nil }
            if cpu.cpus == "" { cpu.cpus = nil }
            if cpu.mems == "" { cpu.mems = nil }
            resources.cpu = cpu
        }
        if resources.pids?.limit == 0 { resources.pids = nil }
        if var io = resources.blockIO {
            if io.weight == 0 { io.weight = nil }
            if io.leafWeight == 0 { io.leafWeight = nil }
            io.weightDevice = io.weightDevice?.map { device in
                var device = device
                if device.weight == 0 { device.weight = nil }
                if device.leafWeight == 0 { device.leafWeight = nil }
                return device
            }
            resources.blockIO = io
        }
        if resources.network?.classID == 0 { resources.network?.classID = nil }
        return resources
    }
}
