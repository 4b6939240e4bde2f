// SPDX-License-Identifier: Apache-2.0
/// Checks a decoded `Spec` for what JSON types cannot express. The first problem found is
/// thrown, named by its JSON path, so the user fixes one line at a time.
public enum SpecValidator {
    public static let supportedMajorVersion = 1
    /// Limits of skiff-init's fixed tables (skiff-init.c), checked before anything is made.
    public static let maximumStartContainerHooks = 64
    public static let maximumMaskedPaths = 256

    public static func validate(_ spec: Spec) throws(SpecError) {
        try validateVersion(spec.ociVersion)
        guard let root = spec.root else { throw SpecError("root", "missing") }
        if root.path.isEmpty { throw SpecError("root.path", "must not be empty") }
        guard let process = spec.process else { throw SpecError("process", "missing") }
        try validate(process)
        if let mounts = spec.mounts {
            for (i, mount) in mounts.enumerated() { try validate(mount, at: JSONPath("mounts").index(i)) }
        }
        if let linux = spec.linux { try validate(linux) }
        if let hooks = spec.hooks {
            let kinds: [(String, [Spec.Hook]?)] = [
                ("prestart", hooks.prestart), ("createRuntime", hooks.createRuntime), ("createContainer", hooks.createContainer),
                ("startContainer", hooks.startContainer), ("poststart", hooks.poststart), ("poststop", hooks.poststop),
            ]
            for (kind, list) in kinds {
                for (i, hook) in (list ?? []).enumerated() {
                    let at = JSONPath("hooks").key(kind).index(i)
                    if !hook.path.hasPrefix("/") { throw SpecError(at["path"], "must be an absolute path, got \"\(hook.path)\"") }
                    if let timeout = hook.timeout, timeout <= 0 { throw SpecError(at["timeout"], "must be positive, got \(timeout)") }
                }
            }
            // skiff-init keeps startContainer hooks in a fixed table until the process starts.
            if let start = hooks.startContainer, start.count > maximumStartContainerHooks {
                throw SpecError("hooks.startContainer", "at most \(maximumStartContainerHooks) hooks, got \(start.count)")
            }
        }
        let namespaces = Set((spec.linux?.namespaces ?? []).compactMap(\.kind))
        if spec.hostname.map({ !$0.isEmpty }) == true, !namespaces.contains(.uts) {
            throw SpecError("hostname", "needs a new uts namespace (linux.namespaces)")
        }
        if spec.domainname.map({ !$0.isEmpty }) == true, !namespaces.contains(.uts) {
            throw SpecError("domainname", "needs a new uts namespace (linux.namespaces)")
        }
    }

    static func validateVersion(_ version: String) throws(SpecError) {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 3, let major = Int(parts[0]),
            parts.dropFirst().allSatisfy({ !$0.isEmpty && ($0.first?.isNumber ?? false) })
        else { throw SpecError("ociVersion", "\"\(version)\" is not a version (expected e.g. \"\(Spec.version)\")") }
        guard major == supportedMajorVersion else {
            throw SpecError("ociVersion", "unsupported version \"\(version)\" (skiff supports 1.x)")
        }
    }

    /// A process for `exec` (a `--process` file, or one built from flags).
    public static func validate(execProcess process: Spec.Process) throws(SpecError) {
        try validate(process)
    }

    static func validate(_ process: Spec.Process) throws(SpecError) {
        let path = JSONPath("process")
        guard let args = process.args, !args.isEmpty else { throw SpecError(path["args"], "must not be empty") }
        if args[0].isEmpty { throw SpecError(path.key("args")[0], "must not be empty") }
        if !process.cwd.hasPrefix("/") { throw SpecError(path["cwd"], "must be an absolute path, got \"\(process.cwd)\"") }
        for (i, entry) in (process.env ?? []).enumerated() where !entry.contains("=") || entry.hasPrefix("=") {
            throw SpecError(path.key("env")[i], "expected KEY=value, got \"\(entry)\"")
        }
        if let caps = process.capabilities {
            let sets: [(String, [String]?)] = [
                ("bounding", caps.bounding), ("effective", caps.effective), ("inheritable", caps.inheritable),
                ("permitted", caps.permitted), ("ambient", caps.ambient),
            ]
            for (set, names) in sets {
                for (i, name) in (names ?? []).enumerated() where LinuxNames.capabilities[name] == nil {
                    throw SpecError(path.key("capabilities").key(set)[i], "unknown capability \"\(name)\"")
                }
            }
        }
        var seen = Set<String>()
        for (i, rlimit) in (process.rlimits ?? []).enumerated() {
            let at = path.key("rlimits").index(i)
            guard LinuxNames.rlimits[rlimit.type] != nil else { throw SpecError(at["type"], "unknown rlimit \"\(rlimit.type)\"") }
            guard seen.insert(rlimit.type).inserted else { throw SpecError(at["type"], "duplicate rlimit \"\(rlimit.type)\"") }
            if rlimit.soft > rlimit.hard { throw SpecError(at.text, "soft limit \(rlimit.soft) is above hard limit \(rlimit.hard)") }
        }
        if let adj = process.oomScoreAdj, !(-1000...1000).contains(adj) {
            throw SpecError(path["oomScoreAdj"], "must be between -1000 and 1000, got \(adj)")
        }
        if let scheduler = process.scheduler {
            let at = path.key("scheduler")
            guard LinuxNames.schedulerPolicies[scheduler.policy] != nil else { throw SpecError(at["policy"], "unknown policy \"\(scheduler.policy)\"") }
            if let nice = scheduler.nice, !(-20...19).contains(nice) { throw SpecError(at["nice"], "must be between -20 and 19, got \(nice)") }
            if let priority = scheduler.priority, !(0...99).contains(priority) {
                throw SpecError(at["priority"], "must be between 0 and 99, got \(priority)")
            }
            for (i, flag) in (scheduler.flags ?? []).enumerated() where LinuxNames.schedulerFlags[flag] == nil {
                throw SpecError(at.key("flags")[i], "unknown flag \"\(flag)\"")
            }
        }
        if let io = process.ioPriority {
            let at = path.key("ioPriority")
            guard LinuxNames.ioPriorityClasses[io.class] != nil else { throw SpecError(at["class"], "unknown class \"\(io.class)\"") }
            if !(0...7).contains(io.priority) { throw SpecError(at["priority"], "must be between 0 and 7, got \(io.priority)") }
        }
        if let affinity = process.execCPUAffinity {
            for (key, list) in [("initial", affinity.initial), ("final", affinity.final)] {
                guard let list, CPUList.parse(list) == nil else { continue }
                throw SpecError(
                    path.key("execCPUAffinity")[key], "\"\(list)\" is not a CPU list (e.g. \"0-3,7\", CPUs 0 to \(CPUList.maximumCPU))")
            }
        }
        if let umask = process.user.umask, umask > 0o777 {
            throw SpecError(path.key("user")["umask"], "must be at most 0777, got \(umask)")
        }
        try validateIDs(process.user, at: path.key("user"))
    }

    /// The largest id a process can be given: 4294967295 is `(uid_t)-1`, which setresuid(2)
    /// and setgroups-free setresgid(2) read as "leave unchanged", so a process asked to run as
    /// it would keep running as root (runc's range is the same).
    public static let maximumID: UInt32 = UInt32.max - 1
    /// The kernel's NGROUPS_MAX.
    public static let maximumAdditionalGids = 65536

    public static func validateIDs(_ user: Spec.User, at path: JSONPath) throws(SpecError) {
        let unchanged = "is (uid_t)-1, which the kernel reads as \"leave the id unchanged\" (ids go up to \(maximumID))"
        if user.uid > maximumID { throw SpecError(path["uid"], "\(user.uid) \(unchanged)") }
        if user.gid > maximumID { throw SpecError(path["gid"], "\(user.gid) \(unchanged)") }
        let gids = user.additionalGids ?? []
        if gids.count > maximumAdditionalGids {
            throw SpecError(path["additionalGids"], "at most \(maximumAdditionalGids) groups (the kernel's NGROUPS_MAX), got \(gids.count)")
        }
        if let i = gids.firstIndex(where: { $0 > maximumID }) {
            throw SpecError(path.key("additionalGids")[i], "\(gids[i]) \(unchanged)")
        }
    }

    static func validate(_ mount: Spec.Mount, at path: JSONPath) throws(SpecError) {
        if !mount.destination.hasPrefix("/") {
            throw SpecError(path["destination"], "must be an absolute path, got \"\(mount.destination)\"")
        }
        let isBind = mount.isBind
        if isBind, (mount.source ?? "").isEmpty { throw SpecError(path["source"], "missing for a bind mount") }
        if !isBind, (mount.type ?? "").isEmpty { throw SpecError(path["type"], "missing (and the mount is not a bind mount)") }
        if mount.uidMappings != nil || mount.gidMappings != nil {
            guard isBind else { throw SpecError(path["uidMappings"], "only bind mounts can be idmapped") }
            guard let uids = mount.uidMappings, !uids.isEmpty, let gids = mount.gidMappings, !gids.isEmpty else {
                throw SpecError(path["uidMappings"], "an idmapped mount needs both uidMappings and gidMappings")
            }
            try validate(uids, at: path.key("uidMappings"))
            try validate(gids, at: path.key("gidMappings"))
        }
    }

    public static let propagations: Set<String> = [
        "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable",
    ]

    /// The largest time namespace offset the kernel takes, in seconds: half of what a ktime_t
    /// holds (KTIME_SEC_MAX / 2, so that KTIME_MAX stays out of reach).
    static let maximumTimeOffset: Int64 = 4_611_686_018

    /// The modes that take no nodes (the local node), and those that need at least one.
    public static let memoryPolicyModesWithoutNodes: Set<String> = ["MPOL_DEFAULT", "MPOL_LOCAL"]
    public static let memoryPolicyModesWithNodes: Set<String> = ["MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED_MANY"]

    /// What set_mempolicy(2) would refuse, refused here naming the field; what only the node
    /// can say (a node it does not have) is the kernel's, at create.
    static func validate(_ policy: Spec.MemoryPolicy, at path: JSONPath) throws(SpecError) {
        guard let mode = policy.mode else { throw SpecError(path["mode"], "is required") }
        guard LinuxNames.memoryPolicyModes[mode] != nil else {
            throw SpecError(path["mode"], "unknown mode \"\(mode)\" (expected one of \(LinuxNames.memoryPolicyModes.keys.sorted().joined(separator: ", ")))")
        }
        for (i, flag) in (policy.flags ?? []).enumerated() where LinuxNames.memoryPolicyFlags[flag] == nil {
            throw SpecError(path.key("flags")[i], "unknown flag \"\(flag)\" (expected one of \(LinuxNames.memoryPolicyFlags.keys.sorted().joined(separator: ", ")))")
        }
        let flags = Set(policy.flags ?? [])
        if flags.contains("MPOL_F_STATIC_NODES"), flags.contains("MPOL_F_RELATIVE_NODES") {
            throw SpecError(path["flags"], "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other")
        }
        let nodes = policy.nodes ?? ""
        if !nodes.isEmpty, CPUList.parse(nodes) == nil {
            throw SpecError(path["nodes"], "\"\(nodes)\" is not a list of nodes like \"0-3,7\" (0 to \(CPUList.maximumCPU))")
        }
        if memoryPolicyModesWithoutNodes.contains(mode), !nodes.isEmpty { throw SpecError(path["nodes"], "\(mode) takes no nodes") }
        if memoryPolicyModesWithNodes.contains(mode), nodes.isEmpty { throw SpecError(path["nodes"], "\(mode) needs at least one node") }
        if mode == "MPOL_DEFAULT", !flags.isEmpty { throw SpecError(path["flags"], "MPOL_DEFAULT takes no flags") }
    }

    static func validate(_ linux: Spec.Linux) throws(SpecError) {
        let path = JSONPath("linux")
        var seen = Set<Spec.NamespaceKind>()
        for (i, namespace) in (linux.namespaces ?? []).enumerated() {
            let at = path.key("namespaces").index(i)
            guard let kind = namespace.kind else { throw SpecError(at["type"], "unknown namespace \"\(namespace.type)\"") }
            guard seen.insert(kind).inserted else { throw SpecError(at["type"], "duplicate namespace \"\(namespace.type)\"") }
            if let nsPath = namespace.path, !nsPath.hasPrefix("/") {
                throw SpecError(at["path"], "must be an absolute path, got \"\(nsPath)\"")
            }
            if kind == .time, namespace.path != nil, linux.timeOffsets != nil {
                throw SpecError(path["timeOffsets"], "cannot be set when joining an existing time namespace")
            }
        }
        let newUser = (linux.namespaces ?? []).contains { $0.kind == .user && $0.path == nil }
        for (name, mappings) in [("uidMappings", linux.uidMappings), ("gidMappings", linux.gidMappings)] {
            if mappings != nil, !newUser { throw SpecError(path[name], "needs a new user namespace (linux.namespaces)") }
            if newUser, (mappings ?? []).isEmpty { throw SpecError(path[name], "a new user namespace needs mappings") }
            try validate(mappings ?? [], at: path.key(name))
        }
        for (key, offset) in (linux.timeOffsets ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard key == "monotonic" || key == "boottime" else {
                throw SpecError(path.key("timeOffsets")[key], "unknown clock (expected monotonic or boottime)")
            }
            // The kernel's bound, checked here so the error names the field and nothing is made
            // (the clock plus the offset must also stay at or above 0: known only when it is set).
            if let secs = offset.secs, !(-Self.maximumTimeOffset...Self.maximumTimeOffset).contains(secs) {
                throw SpecError(
                    path.key("timeOffsets").key(key)["secs"], "\(secs) is out of range (-\(Self.maximumTimeOffset) to \(Self.maximumTimeOffset))")
            }
            if let nanosecs = offset.nanosecs, nanosecs >= 1_000_000_000 {
                throw SpecError(path.key("timeOffsets").key(key)["nanosecs"], "\(nanosecs) is not below 1000000000")
            }
        }
        if linux.timeOffsets != nil, !seen.contains(.time) {
            throw SpecError(path["timeOffsets"], "needs a new time namespace (linux.namespaces)")
        }
        if let policy = linux.memoryPolicy { try validate(policy, at: path.key("memoryPolicy")) }
        if let propagation = linux.rootfsPropagation, !propagations.contains(propagation) {
            throw SpecError(path["rootfsPropagation"], "unknown propagation \"\(propagation)\"")
        }
        for (i, device) in (linux.devices ?? []).enumerated() {
            let at = path.key("devices").index(i)
            guard ["c", "b", "u", "p"].contains(device.type) else {
                throw SpecError(at["type"], "unknown device type \"\(device.type)\" (expected c, b, u or p)")
            }
            if !device.path.hasPrefix("/dev/") { throw SpecError(at["path"], "must be under /dev, got \"\(device.path)\"") }
            // "/dev/../x" is outside /dev: the node would be made in the image on disk.
            if device.path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) {
                throw SpecError(at["path"], "must not contain \".\" or \"..\" components, got \"\(device.path)\"")
            }
            if device.type != "p", device.major == nil || device.minor == nil {
                throw SpecError(at.text, "major and minor are required for a \(device.type) device")
            }
        }
        for key in (linux.sysctl ?? [:]).keys.sorted() {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false)
            if key.isEmpty || key.contains("/") || parts.contains(where: { $0.isEmpty || $0 == ".." }) {
                throw SpecError(path.key("sysctl")[key], "invalid sysctl name")
            }
        }
        if let masked = linux.maskedPaths, masked.count > maximumMaskedPaths {
            throw SpecError(path["maskedPaths"], "at most \(maximumMaskedPaths) paths, got \(masked.count)")
        }
        for (i, masked) in (linux.maskedPaths ?? []).enumerated() where !masked.hasPrefix("/") {
            throw SpecError(path.key("maskedPaths")[i], "must be an absolute path, got \"\(masked)\"")
        }
        for (i, readonly) in (linux.readonlyPaths ?? []).enumerated() where !readonly.hasPrefix("/") {
            throw SpecError(path.key("readonlyPaths")[i], "must be an absolute path, got \"\(readonly)\"")
        }
        if let resources = linux.resources { try validate(resources, at: path.key("resources")) }
        if let personality = linux.personality {
            guard LinuxNames.personalityDomains[personality.domain] != nil else {
                throw SpecError(path.key("personality")["domain"], "unknown domain \"\(personality.domain)\" (expected LINUX or LINUX32)")
            }
            if !(personality.flags ?? []).isEmpty { throw SpecError(path.key("personality")["flags"], "no personality flags are supported") }
        }
        if let devices = linux.netDevices { try validate(devices, namespaces: linux.namespaces ?? [], at: path.key("netDevices")) }
        // Parsed so that a config naming it is read whole, but not applied: refused rather than
        // dropped. Intel RDT needs resctrl, which skiff does not manage.
        if linux.intelRdt != nil { throw SpecError(path["intelRdt"], "Intel RDT (resctrl) is not supported") }
    }

    /// `linux.netDevices`: names the kernel takes (a new name may be a `%d` template), no two
    /// devices given one name, and a network namespace to move them into. What the node
    /// relies on is refused when the devices are moved (`NetDeviceMove`), where it is known.
    static func validate(_ devices: [String: Spec.NetDevice], namespaces: [Spec.Namespace], at path: JSONPath) throws(SpecError) {
        guard !devices.isEmpty else { return }
        guard namespaces.contains(where: { $0.kind == .network }) else {
            throw SpecError(path.text, "needs a network namespace (linux.namespaces) to move the devices into")
        }
        var targets: [String: String] = [:]
        for hostName in devices.keys.sorted() {
            let field = "\(path.text)[\"\(hostName)\"]"
            try validateInterfaceName(hostName, template: false, field: field)
            let target = devices[hostName]!.name ?? hostName
            if target != hostName { try validateInterfaceName(target, template: true, field: field + ".name") }
            if target == "lo", target != hostName { throw SpecError(field + ".name", "\"lo\" is the container's loopback interface") }
            if !target.contains("%"), let other = targets[target] {
                throw SpecError(field, "\"\(other)\" is moved in as \"\(target)\" too: two devices cannot have one name")
            }
            targets[target] = hostName
        }
    }

    /// A name the kernel takes for an interface (`dev_valid_name`): 1 to 15 bytes, not "." or
    /// "..", no '/', ':' or white space (kept to printable ASCII). With `template`, one "%d"
    /// that the kernel replaces with the first free number.
    static func validateInterfaceName(_ name: String, template: Bool, field: String) throws(SpecError) {
        guard (1...15).contains(name.utf8.count) else { throw SpecError(field, "\"\(name)\": an interface name has 1 to 15 characters") }
        let allowed = name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") }
        guard allowed, name != ".", name != ".." else {
            throw SpecError(field, "\"\(name)\" is not an interface name (no '/', ':', white space or control characters; not \".\" or \"..\")")
        }
        let percents = name.utf8.filter { $0 == UInt8(ascii: "%") }.count
        guard percents == 0 || (template && percents == 1 && name.contains("%d")) else {
            throw SpecError(field, "\"\(name)\": '%' is only allowed as one \"%d\" in a new name (a template the kernel numbers)")
        }
    }

    /// Id mappings as the kernel takes them: non-empty ranges inside 32 bits, at most 340
    /// lines, no two overlapping on either side.
    static func validate(_ mappings: [Spec.IDMapping], at path: JSONPath) throws(SpecError) {
        if mappings.count > 340 { throw SpecError(path.text, "at most 340 mappings, got \(mappings.count)") }
        for (i, m) in mappings.enumerated() {
            if m.size == 0 { throw SpecError(path.index(i)["size"], "must not be 0") }
            if UInt64(m.containerID) + UInt64(m.size) > 1 << 32 { throw SpecError(path.index(i).text, "containerID + size is past 4294967296") }
            if UInt64(m.hostID) + UInt64(m.size) > 1 << 32 { throw SpecError(path.index(i).text, "hostID + size is past 4294967296") }
            for (j, earlier) in mappings[..<i].enumerated() {
                func overlap(_ a: UInt32, _ b: UInt32) -> Bool {
                    UInt64(a) < UInt64(b) + UInt64(earlier.size) && UInt64(b) < UInt64(a) + UInt64(m.size)
                }
                if overlap(m.containerID, earlier.containerID) { throw SpecError(path.index(i).text, "container ids overlap \(path.index(j).text)") }
                if overlap(m.hostID, earlier.hostID) { throw SpecError(path.index(i).text, "host ids overlap \(path.index(j).text)") }
            }
        }
    }

    /// The kernel's range for v1 `cpu.shares` (it clamps anything else silently; runc refuses).
    public static let cpuSharesRange: ClosedRange<UInt64> = 2...262_144

    /// `linux.resources` from config.json or `update`. As in runc, 0 leaves a limit unset
    /// (Docker sends 0 for every field it does not set) and -1 means "max".
    public static func validate(_ resources: Spec.Resources, at path: JSONPath) throws(SpecError) {
        if let memory = resources.memory {
            for (name, value) in [("limit", memory.limit), ("reservation", memory.reservation), ("swap", memory.swap)] {
                if let value, value < -1 { throw SpecError(path.key("memory")[name], "must be positive (or -1 for no limit), got \(value)") }
            }
        }
        if let cpu = resources.cpu {
            if let quota = cpu.quota, quota < -1 {
                throw SpecError(path.key("cpu")["quota"], "must be positive (or -1 for no limit), got \(quota)")
            }
            if let shares = cpu.shares, shares != 0, !cpuSharesRange.contains(shares) {
                throw SpecError(
                    path.key("cpu")["shares"], "must be between \(cpuSharesRange.lowerBound) and \(cpuSharesRange.upperBound) (the kernel's range), got \(shares)")
            }
            if let runtime = cpu.realtimeRuntime, runtime < -1 {
                throw SpecError(path.key("cpu")["realtimeRuntime"], "must be positive (or -1 for no limit), got \(runtime)")
            }
        }
        if let limit = resources.pids?.limit, limit < -1 {
            throw SpecError(path.key("pids")["limit"], "must be positive (or -1 for no limit), got \(limit)")
        }
        if let weight = resources.blockIO?.weight, weight != 0, !(10...1000).contains(weight) {
            throw SpecError(path.key("blockIO")["weight"], "must be between 10 and 1000, got \(weight)")
        }
    }
}
