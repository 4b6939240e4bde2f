// SPDX-License-Identifier: Apache-2.0
// The explicit JSON mapping of every runtime-spec type (see JSON.swift for why not Codable).
// Field order follows the specification, so `skiff spec` writes fields in its order.

extension Spec: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.ociVersion = try json.required("ociVersion") { key throws(SpecError) in try json.string(key) }
        self.process = try json.object("process", as: Spec.Process.self)
        self.root = try json.object("root", as: Spec.Root.self)
        self.hostname = try json.string("hostname")
        self.domainname = try json.string("domainname")
        self.mounts = try json.objects("mounts", as: Spec.Mount.self)
        self.hooks = try json.object("hooks", as: Spec.Hooks.self)
        self.annotations = try json.stringMap("annotations")
        self.linux = try json.object("linux", as: Spec.Linux.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("ociVersion", ociVersion)
        json.set("process", process)
        json.set("root", root)
        json.set("hostname", hostname)
        json.set("domainname", domainname)
        json.set("mounts", mounts)
        json.set("hooks", hooks)
        json.set("annotations", annotations)
        json.set("linux", linux)
    }
}

extension Spec.Process: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.terminal = try json.bool("terminal")
        self.consoleSize = try json.object("consoleSize", as: Spec.ConsoleSize.self)
        self.user = try json.required("user") { key throws(SpecError) in try json.object(key, as: Spec.User.self) }
        self.args = try json.strings("args")
        self.commandLine = try json.string("commandLine")
        self.env = try json.strings("env")
        self.cwd = try json.required("cwd") { key throws(SpecError) in try json.string(key) }
        self.capabilities = try json.object("capabilities", as: Spec.Capabilities.self)
        self.rlimits = try json.objects("rlimits", as: Spec.Rlimit.self)
        self.noNewPrivileges = try json.bool("noNewPrivileges")
        self.apparmorProfile = try json.string("apparmorProfile")
        self.oomScoreAdj = try json.integer("oomScoreAdj", as: Int.self)
        self.scheduler = try json.object("scheduler", as: Spec.Scheduler.self)
        self.selinuxLabel = try json.string("selinuxLabel")
        self.ioPriority = try json.object("ioPriority", as: Spec.IOPriority.self)
        self.execCPUAffinity = try json.object("execCPUAffinity", as: Spec.CPUAffinity.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("terminal", terminal)
        json.set("consoleSize", consoleSize)
        json.set("user", user)
        json.set("args", args)
        json.set("commandLine", commandLine)
        json.set("env", env)
        json.set("cwd", cwd)
        json.set("capabilities", capabilities)
        json.set("rlimits", rlimits)
        json.set("noNewPrivileges", noNewPrivileges)
        json.set("apparmorProfile", apparmorProfile)
        json.set("oomScoreAdj", oomScoreAdj)
        json.set("scheduler", scheduler)
        json.set("selinuxLabel", selinuxLabel)
        json.set("ioPriority", ioPriority)
        json.set("execCPUAffinity", execCPUAffinity)
    }
}

extension Spec.ConsoleSize: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.height = try json.required("height") { key throws(SpecError) in try json.integer(key, as: UInt.self) }
        self.width = try json.required("width") { key throws(SpecError) in try json.integer(key, as: UInt.self) }
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("height", height)
        json.set("width", width)
    }
}

extension Spec.User: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.uid = try json.required("uid") { key throws(SpecError) in try json.integer(key, as: UInt32.self) }
        self.gid = try json.required("gid") { key throws(SpecError) in try json.integer(key, as: UInt32.self) }
        self.umask = try json.integer("umask", as: UInt32.self)
        self.additionalGids = try json.array("additionalGids") { v, p throws(SpecError) in try v.integer(at: p, as: UInt32.self) }
        self.username = try json.string("username")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("uid", uid)
        json.set("gid", gid)
        json.set("umask", umask)
        json.set("additionalGids", additionalGids)
        json.set("username", username)
    }
}

extension Spec.Capabilities: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.bounding = try json.strings("bounding")
        self.effective = try json.strings("effective")
        self.inheritable = try json.strings("inheritable")
        self.permitted = try json.strings("permitted")
        self.ambient = try json.strings("ambient")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("bounding", bounding)
        json.set("effective", effective)
        json.set("inheritable", inheritable)
        json.set("permitted", permitted)
        json.set("ambient", ambient)
    }
}

extension Spec.Rlimit: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.type = try json.required("type") { key throws(SpecError) in try json.string(key) }
        self.hard = try json.required("hard") { key throws(SpecError) in try json.integer(key, as: UInt64.self) }
        self.soft = try json.required("soft") { key throws(SpecError) in try json.integer(key, as: UInt64.self) }
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("type", type)
        json.set("hard", hard)
        json.set("soft", soft)
    }
}

extension Spec.Scheduler: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.policy = try json.required("policy") { key throws(SpecError) in try json.string(key) }
        self.nice = try json.integer("nice", as: Int32.self)
        self.priority = try json.integer("priority", as: Int32.self)
        self.flags = try json.strings("flags")
        self.runtime = try json.integer("runtime", as: UInt64.self)
        self.deadline = try json.integer("deadline", as: UInt64.self)
        self.period = try json.integer("period", as: UInt64.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("policy", policy)
        json.set("nice", nice)
        json.set("priority", priority)
        json.set("flags", flags)
        json.set("runtime", runtime)
        json.set("deadline", deadline)
        json.set("period", period)
    }
}

extension Spec.IOPriority: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.`class` = try json.required("class") { key throws(SpecError) in try json.string(key) }
        self.priority = try json.required("priority") { key throws(SpecError) in try json.integer(key, as: Int.self) }
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("class", `class`)
        json.set("priority", priority)
    }
}

extension Spec.CPUAffinity: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.initial = try json.string("initial")
        self.final = try json.string("final")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("initial", initial)
        json.set("final", final)
    }
}

extension Spec.Root: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.path = try json.required("path") { key throws(SpecError) in try json.string(key) }
        self.readonly = try json.bool("readonly")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("path", path)
        json.set("readonly", readonly)
    }
}

extension Spec.Mount: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.destination = try json.required("destination") { key throws(SpecError) in try json.string(key) }
        self.type = try json.string("type")
        self.source = try json.string("source")
        self.options = try json.strings("options")
        self.uidMappings = try json.objects("uidMappings", as: Spec.IDMapping.self)
        self.gidMappings = try json.objects("gidMappings", as: Spec.IDMapping.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("destination", destination)
        json.set("type", type)
        json.set("source", source)
        json.set("options", options)
        json.set("uidMappings", uidMappings)
        json.set("gidMappings", gidMappings)
    }
}

extension Spec.Hooks: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.prestart = try json.objects("prestart", as: Spec.Hook.self)
        self.createRuntime = try json.objects("createRuntime", as: Spec.Hook.self)
        self.createContainer = try json.objects("createContainer", as: Spec.Hook.self)
        self.startContainer = try json.objects("startContainer", as: Spec.Hook.self)
        self.poststart = try json.objects("poststart", as: Spec.Hook.self)
        self.poststop = try json.objects("poststop", as: Spec.Hook.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("prestart", prestart)
        json.set("createRuntime", createRuntime)
        json.set("createContainer", createContainer)
        json.set("startContainer", startContainer)
        json.set("poststart", poststart)
        json.set("poststop", poststop)
    }
}

extension Spec.Hook: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.path = try json.required("path") { key throws(SpecError) in try json.string(key) }
        self.args = try json.strings("args")
        self.env = try json.strings("env")
        self.timeout = try json.integer("timeout", as: Int.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("path", path)
        json.set("args", args)
        json.set("env", env)
        json.set("timeout", timeout)
    }
}

extension Spec.Linux: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.uidMappings = try json.objects("uidMappings", as: Spec.IDMapping.self)
        self.gidMappings = try json.objects("gidMappings", as: Spec.IDMapping.self)
        self.sysctl = try json.stringMap("sysctl")
        self.resources = try json.object("resources", as: Spec.Resources.self)
        self.cgroupsPath = try json.string("cgroupsPath")
        self.namespaces = try json.objects("namespaces", as: Spec.Namespace.self)
        self.devices = try json.objects("devices", as: Spec.Device.self)
        self.netDevices = try json.objectMap("netDevices", as: Spec.NetDevice.self)
        self.seccomp = try json.object("seccomp", as: Spec.Seccomp.self)
        self.rootfsPropagation = try json.string("rootfsPropagation")
        self.maskedPaths = try json.strings("maskedPaths")
        self.readonlyPaths = try json.strings("readonlyPaths")
        self.mountLabel = try json.string("mountLabel")
        self.intelRdt = try json.object("intelRdt", as: Spec.IntelRdt.self)
        self.personality = try json.object("personality", as: Spec.Personality.self)
        self.timeOffsets = try json.objectMap("timeOffsets", as: Spec.TimeOffset.self)
        self.memoryPolicy = try json.object("memoryPolicy", as: Spec.MemoryPolicy.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("uidMappings", uidMappings)
        json.set("gidMappings", gidMappings)
        json.set("sysctl", sysctl)
        json.set("resources", resources)
        json.set("cgroupsPath", cgroupsPath)
        json.set("namespaces", namespaces)
        json.set("devices", devices)
        json.set("netDevices", netDevices)
        json.set("seccomp", seccomp)
        json.set("rootfsPropagation", rootfsPropagation)
        json.set("maskedPaths", maskedPaths)
        json.set("readonlyPaths", readonlyPaths)
        json.set("mountLabel", mountLabel)
        json.set("intelRdt", intelRdt)
        json.set("memoryPolicy", memoryPolicy)
        json.set("personality", personality)
        json.set("timeOffsets", timeOffsets)
    }
}

extension Spec.IDMapping: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.containerID = try json.required("containerID") { key throws(SpecError) in try json.integer(key, as: UInt32.self) }
        self.hostID = try json.required("hostID") { key throws(SpecError) in try json.integer(key, as: UInt32.self) }
        self.size = try json.required("size") { key throws(SpecError) in try json.integer(key, as: UInt32.self) }
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("containerID", containerID)
        json.set("hostID", hostID)
        json.set("size", size)
    }
}

extension Spec.Namespace: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.type = try json.required("type") { key throws(SpecError) in try json.string(key) }
        self.path = try json.string("path")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("type", type)
        json.set("path", path)
    }
}

extension Spec.Device: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.type = try json.required("type") { key throws(SpecError) in try json.string(key) }
        self.path = try json.required("path") { key throws(SpecError) in try json.string(key) }
        self.major = try json.integer("major", as: Int64.self)
        self.minor = try json.integer("minor", as: Int64.self)
        self.fileMode = try json.integer("fileMode", as: UInt32.self)
        self.uid = try json.integer("uid", as: UInt32.self)
        self.gid = try json.integer("gid", as: UInt32.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("type", type)
        json.set("path", path)
        json.set("major", major)
        json.set("minor", minor)
        json.set("fileMode", fileMode)
        json.set("uid", uid)
        json.set("gid", gid)
    }
}

extension Spec.NetDevice: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.name = try json.string("name")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("name", name)
    }
}

extension Spec.Personality: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.domain = try json.required("domain") { key throws(SpecError) in try json.string(key) }
        self.flags = try json.strings("flags")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("domain", domain)
        json.set("flags", flags)
    }
}

extension Spec.TimeOffset: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.secs = try json.integer("secs", as: Int64.self)
        self.nanosecs = try json.integer("nanosecs", as: UInt32.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("secs", secs)
        json.set("nanosecs", nanosecs)
    }
}

extension Spec.MemoryPolicy: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.mode = try json.string("mode")
        self.nodes = try json.string("nodes")
        self.flags = try json.strings("flags")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("mode", mode)
        json.set("nodes", nodes)
        json.set("flags", flags)
    }
}

extension Spec.IntelRdt: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.closID = try json.string("closID")
        self.l3CacheSchema = try json.string("l3CacheSchema")
        self.memBwSchema = try json.string("memBwSchema")
        self.schemata = try json.strings("schemata")
        self.enableMonitoring = try json.bool("enableMonitoring")
        self.enableCMT = try json.bool("enableCMT")
        self.enableMBM = try json.bool("enableMBM")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("closID", closID)
        json.set("l3CacheSchema", l3CacheSchema)
        json.set("memBwSchema", memBwSchema)
        json.set("schemata", schemata)
        json.set("enableMonitoring", enableMonitoring)
        json.set("enableCMT", enableCMT)
        json.set("enableMBM", enableMBM)
    }
}

extension Spec.Resources: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.devices = try json.objects("devices", as: Spec.DeviceCgroup.self)
        self.memory = try json.object("memory", as: Spec.Memory.self)
        self.cpu = try json.object("cpu", as: Spec.CPU.self)
        self.pids = try json.object("pids", as: Spec.Pids.self)
        self.blockIO = try json.object("blockIO", as: Spec.BlockIO.self)
        self.hugepageLimits = try json.objects("hugepageLimits", as: Spec.HugepageLimit.self)
        self.network = try json.object("network", as: Spec.Network.self)
        self.rdma = try json.objectMap("rdma", as: Spec.Rdma.self)
        self.unified = try json.stringMap("unified")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("devices", devices)
        json.set("memory", memory)
        json.set("cpu", cpu)
        json.set("pids", pids)
        json.set("blockIO", blockIO)
        json.set("hugepageLimits", hugepageLimits)
        json.set("network", network)
        json.set("rdma", rdma)
        json.set("unified", unified)
    }
}

extension Spec.DeviceCgroup: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.allow = try json.required("allow") { key throws(SpecError) in try json.bool(key) }
        self.type = try json.string("type")
        self.major = try json.integer("major", as: Int64.self)
        self.minor = try json.integer("minor", as: Int64.self)
        self.access = try json.string("access")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("allow", allow)
        json.set("type", type)
        json.set("major", major)
        json.set("minor", minor)
        json.set("access", access)
    }
}

extension Spec.Memory: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.limit = try json.integer("limit", as: Int64.self)
        self.reservation = try json.integer("reservation", as: Int64.self)
        self.swap = try json.integer("swap", as: Int64.self)
        self.kernel = try json.integer("kernel", as: Int64.self)
        self.kernelTCP = try json.integer("kernelTCP", as: Int64.self)
        self.swappiness = try json.integer("swappiness", as: UInt64.self)
        self.disableOOMKiller = try json.bool("disableOOMKiller")
        self.useHierarchy = try json.bool("useHierarchy")
        self.checkBeforeUpdate = try json.bool("checkBeforeUpdate")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("limit", limit)
        json.set("reservation", reservation)
        json.set("swap", swap)
        json.set("kernel", kernel)
        json.set("kernelTCP", kernelTCP)
        json.set("swappiness", swappiness)
        json.set("disableOOMKiller", disableOOMKiller)
        json.set("useHierarchy", useHierarchy)
        json.set("checkBeforeUpdate", checkBeforeUpdate)
    }
}

extension Spec.CPU: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.shares = try json.integer("shares", as: UInt64.self)
        self.quota = try json.integer("quota", as: Int64.self)
        self.burst = try json.integer("burst", as: UInt64.self)
        self.period = try json.integer("period", as: UInt64.self)
        self.realtimeRuntime = try json.integer("realtimeRuntime", as: Int64.self)
        self.realtimePeriod = try json.integer("realtimePeriod", as: UInt64.self)
        self.cpus = try json.string("cpus")
        self.mems = try json.string("mems")
        self.idle = try json.integer("idle", as: Int64.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("shares", shares)
        json.set("quota", quota)
        json.set("burst", burst)
        json.set("period", period)
        json.set("realtimeRuntime", realtimeRuntime)
        json.set("realtimePeriod", realtimePeriod)
        json.set("cpus", cpus)
        json.set("mems", mems)
        json.set("idle", idle)
    }
}

extension Spec.Pids: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.limit = try json.required("limit") { key throws(SpecError) in try json.integer(key, as: Int64.self) }
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("limit", limit)
    }
}

extension Spec.BlockIO: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.weight = try json.integer("weight", as: UInt16.self)
        self.leafWeight = try json.integer("leafWeight", as: UInt16.self)
        self.weightDevice = try json.objects("weightDevice", as: Spec.WeightDevice.self)
        self.throttleReadBpsDevice = try json.objects("throttleReadBpsDevice", as: Spec.ThrottleDevice.self)
        self.throttleWriteBpsDevice = try json.objects("throttleWriteBpsDevice", as: Spec.ThrottleDevice.self)
        self.throttleReadIOPSDevice = try json.objects("throttleReadIOPSDevice", as: Spec.ThrottleDevice.self)
        self.throttleWriteIOPSDevice = try json.objects("throttleWriteIOPSDevice", as: Spec.ThrottleDevice.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("weight", weight)
        json.set("leafWeight", leafWeight)
        json.set("weightDevice", weightDevice)
        json.set("throttleReadBpsDevice", throttleReadBpsDevice)
        json.set("throttleWriteBpsDevice", throttleWriteBpsDevice)
        json.set("throttleReadIOPSDevice", throttleReadIOPSDevice)
        json.set("throttleWriteIOPSDevice", throttleWriteIOPSDevice)
    }
}

extension Spec.WeightDevice: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.major = try json.required("major") { key throws(SpecError) in try json.integer(key, as: Int64.self) }
        self.minor = try json.required("minor") { key throws(SpecError) in try json.integer(key, as: Int64.self) }
        self.weight = try json.integer("weight", as: UInt16.self)
        self.leafWeight = try json.integer("leafWeight", as: UInt16.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("major", major)
        json.set("minor", minor)
        json.set("weight", weight)
        json.set("leafWeight", leafWeight)
    }
}

extension Spec.ThrottleDevice: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.major = try json.required("major") { key throws(SpecError) in try json.integer(key, as: Int64.self) }
        self.minor = try json.required("minor") { key throws(SpecError) in try json.integer(key, as: Int64.self) }
        self.rate = try json.required("rate") { key throws(SpecError) in try json.integer(key, as: UInt64.self) }
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("major", major)
        json.set("minor", minor)
        json.set("rate", rate)
    }
}

extension Spec.HugepageLimit: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.pageSize = try json.required("pageSize") { key throws(SpecError) in try json.string(key) }
        self.limit = try json.required("limit") { key throws(SpecError) in try json.integer(key, as: UInt64.self) }
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("pageSize", pageSize)
        json.set("limit", limit)
    }
}

extension Spec.Network: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.classID = try json.integer("classID", as: UInt32.self)
        self.priorities = try json.objects("priorities", as: Spec.InterfacePriority.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("classID", classID)
        json.set("priorities", priorities)
    }
}

extension Spec.InterfacePriority: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.name = try json.required("name") { key throws(SpecError) in try json.string(key) }
        self.priority = try json.required("priority") { key throws(SpecError) in try json.integer(key, as: UInt32.self) }
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("name", name)
        json.set("priority", priority)
    }
}

extension Spec.Rdma: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.hcaHandles = try json.integer("hcaHandles", as: UInt32.self)
        self.hcaObjects = try json.integer("hcaObjects", as: UInt32.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("hcaHandles", hcaHandles)
        json.set("hcaObjects", hcaObjects)
    }
}

extension Spec.Seccomp: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.defaultAction = try json.required("defaultAction") { key throws(SpecError) in try json.string(key) }
        self.defaultErrnoRet = try json.integer("defaultErrnoRet", as: UInt32.self)
        self.architectures = try json.strings("architectures")
        self.flags = try json.strings("flags")
        self.listenerPath = try json.string("listenerPath")
        self.listenerMetadata = try json.string("listenerMetadata")
        self.syscalls = try json.objects("syscalls", as: Spec.Syscall.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("defaultAction", defaultAction)
        json.set("defaultErrnoRet", defaultErrnoRet)
        json.set("architectures", architectures)
        json.set("flags", flags)
        json.set("listenerPath", listenerPath)
        json.set("listenerMetadata", listenerMetadata)
        json.set("syscalls", syscalls)
    }
}

extension Spec.Syscall: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.names = try json.required("names") { key throws(SpecError) in try json.strings(key) }
        self.action = try json.required("action") { key throws(SpecError) in try json.string(key) }
        self.errnoRet = try json.integer("errnoRet", as: UInt32.self)
        self.args = try json.objects("args", as: Spec.SyscallArg.self)
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("names", names)
        json.set("action", action)
        json.set("errnoRet", errnoRet)
        json.set("args", args)
    }
}

extension Spec.SyscallArg: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        self.index = try json.required("index") { key throws(SpecError) in try json.integer(key, as: UInt.self) }
        self.value = try json.required("value") { key throws(SpecError) in try json.integer(key, as: UInt64.self) }
        self.valueTwo = try json.integer("valueTwo", as: UInt64.self)
        self.op = try json.required("op") { key throws(SpecError) in try json.string(key) }
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("index", index)
        json.set("value", value)
        json.set("valueTwo", valueTwo)
        json.set("op", op)
    }
}
