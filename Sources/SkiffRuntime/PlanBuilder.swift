// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffCgroups
import SkiffSpec
import SkiffSystem

/// Turns a validated `Spec` into the launch plan skiff-init executes: all decisions
/// (order, flags, paths, which devices, which descriptors) are made here, in Swift, before
/// clone. It decides only: what it knows of the host comes in as `HostFacts`, the descriptors
/// it needs go out as named requests (`DescriptorRequest`) that `LaunchDescriptors` opens,
/// and the container's `/sys/fs/cgroup` is its cgroup driver's answer. So a plan is a function
/// of its inputs, and the golden plans cover any host without root.
///
/// The order is the one runc and crun use: namespaces joined; rlimits and oom_score_adj;
/// the cgroup namespace once the process is in its cgroup; hostname; mounts, devices,
/// pivot_root, then read-only root, read-only and masked paths; sysctls; capabilities
/// bounding set, user and groups, the other capability sets; no_new_privs; cwd; fds; exec.
struct PlanBuilder {
    /// What the caller chose, beyond the config: runc's flags and the runtime's own parts.
    struct Options {
        /// Names the session keyring (runc names it after the container too).
        var containerID = ""
        var noPivot = false
        var noNewKeyring = false
        var preserveFds = 0
        /// The load flags of the compiled seccomp filter, when the process has one.
        var seccompFlags: UInt32?
        /// process.terminal with a console socket: skiff-init sends the pty master on it.
        var console = false
        /// The task's own interface (network annotations and a new network namespace); its
        /// rules are sent by skiff-init (`TaskRulesChannel`).
        var network = false
        /// The container's cgroup and the driver that answers for its `/sys/fs/cgroup`.
        var cgroup = ContainerCgroup(relativePath: "", directories: [])
        var cgroupDriver: any CgroupDriver = NoCgroupDriver()
        /// The process waits on the exec fifo for `skiff start` (false for `run`).
        var waitForStart = true
    }

    let spec: Spec
    let bundle: String
    let rootfs: String
    let host: HostFacts
    let options: Options
    /// Warnings for the log (e.g. a capability this kernel does not have).
    var warnings: [String] = []

    init(spec: Spec, bundle: String, rootfs: String, host: HostFacts, options: Options) {
        self.spec = spec
        self.bundle = bundle
        self.rootfs = rootfs
        self.host = host
        self.options = options
    }

    struct Output {
        var plan: LaunchPlan
        /// CLONE_NEW* flags for the namespaces created at clone.
        var cloneFlags: UInt64
        /// Whether the parent writes the maps of a new user namespace (SYNC `syncUserMaps`).
        var newUserNamespace: Bool
        var warnings: [String]
    }

    static let cloneFlags: [Spec.NamespaceKind: Int64] = [
        .pid: Int64(SKIFF_CLONE_NEWPID), .network: Int64(SKIFF_CLONE_NEWNET), .mount: Int64(SKIFF_CLONE_NEWNS),
        .ipc: Int64(SKIFF_CLONE_NEWIPC), .uts: Int64(SKIFF_CLONE_NEWUTS), .user: Int64(SKIFF_CLONE_NEWUSER),
        .cgroup: Int64(SKIFF_CLONE_NEWCGROUP), .time: Int64(SKIFF_CLONE_NEWTIME),
    ]

    /// The CONSOLE operation: the pty, its size, and /dev/console when `bindConsole`.
    func appendConsole(into plan: inout LaunchPlan, process: Spec.Process, bindConsole: Bool) {
        guard options.console else { return }
        plan.console(rows: Int(process.consoleSize?.height ?? 0), columns: Int(process.consoleSize?.width ?? 0), bindConsole: bindConsole)
    }

    /// The end of every plan, create's and exec's: seccomp as late as possible (just before
    /// the exec with no_new_privs; without it the filter needs CAP_SYS_ADMIN to load, so before
    /// capabilities and ids change: runc's order), credentials, cwd, descriptors, the exec.
    mutating func appendProcess(_ process: Spec.Process, into plan: inout LaunchPlan, waitForStart: Bool) throws(RuntimeError) {
        let noNewPrivileges = process.noNewPrivileges == true
        // Without no_new_privs the filter needs CAP_SYS_ADMIN to load: skiff-init keeps it
        // until then, and drops it with one capset right after.
        let keepSysAdmin = options.seccompFlags != nil && !noNewPrivileges
        try buildCredentials(into: &plan, process: process, keepSysAdmin: keepSysAdmin)
        if noNewPrivileges { plan.noNewPrivileges() }
        plan.changeDirectory(process.cwd)
        if let flags = options.seccompFlags {
            // Read now, loaded by EXEC as late as it can be (see skiff_plan.h): just before
            // execve, or just before READY when a notify listener must reach the parent.
            plan.seccomp(flags: flags, beforeReady: flags & Self.newListenerFlag != 0)
        }
        let fifoIndex = waitForStart ? plan.add(.execFifo) : nil
        plan.closeDescriptors(from: 3 + options.preserveFds, keepingFifo: fifoIndex)
        let env = process.env ?? []
        let search =
            env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let args = process.args!
        plan.exec(args, env: env, search: search, waitForStart: fifoIndex != nil)
    }

    /// rlimits, oom_score_adj, the scheduler, the I/O priority, the personality and the memory
    /// policy: first,
    /// while the process still has the initial user namespace's privileges (raising a limit,
    /// a real-time policy or I/O class needs those), as runc sets them in its init. Names
    /// were validated (SpecValidator).
    func appendLimits(_ process: Spec.Process, into plan: inout LaunchPlan) {
        for rlimit in process.rlimits ?? [] {
            plan.rlimit(Int32(LinuxNames.rlimits[rlimit.type]!), soft: rlimit.soft, hard: rlimit.hard, name: rlimit.type)
        }
        if let adj = process.oomScoreAdj { plan.oomScoreAdjust(Int(adj)) }
        if let scheduler = process.scheduler {
            plan.scheduler(
                policy: LinuxNames.schedulerPolicies[scheduler.policy]!, nice: scheduler.nice ?? 0, priority: scheduler.priority ?? 0,
                flags: (scheduler.flags ?? []).reduce(0) { $0 | LinuxNames.schedulerFlags[$1]! },
                runtime: scheduler.runtime ?? 0, deadline: scheduler.deadline ?? 0, period: scheduler.period ?? 0)
        }
        if let io = process.ioPriority { plan.ioPriority(class: LinuxNames.ioPriorityClasses[io.class]!, priority: io.priority) }
        if let personality = spec.linux?.personality { plan.personality(LinuxNames.personalityDomains[personality.domain]!) }
        // The container's NUMA memory policy, for its init and every exec'd process alike (a
        // thread's policy is inherited across fork and execve, never from a sibling).
        if let policy = spec.linux?.memoryPolicy, let mode = policy.mode.flatMap({ LinuxNames.memoryPolicyModes[$0] }) {
            let flags = (policy.flags ?? []).reduce(Int32(0)) { $0 | LinuxNames.memoryPolicyFlags[$1]! }
            plan.memoryPolicy(modeAndFlags: mode | flags, nodes: policy.nodes.flatMap { CPUList.parse($0) } ?? [])
        }
    }

    /// The SYNC tags: the parent writes uid_map and gid_map; runs prestart and createRuntime
    /// hooks; sends the state for createContainer hooks; sends it for startContainer hooks.
    static let syncUserMaps = 1
    static let syncRuntimeHooks = 2
    static let syncCreateContainerState = 3
    static let syncStartContainerState = 4
    /// The parent gives the new network namespace its interface and address (and, when
    /// `networkRules` is nil, its rules).
    static let syncNetwork = 5
    /// The parent leases the task's address and stages its rules for skiff-init to send.
    static let syncNetworkRules = 6
    /// The parent moves `linux.netDevices` into the new network namespace.
    static let syncNetDevices = 7

    /// A new user namespace: created by skiff-init, mapped by the parent.
    var newUserNamespace: Bool {
        (spec.linux?.namespaces ?? []).contains { $0.kind == .user && $0.path == nil }
    }

    /// Whether the container has a namespace of `kind` to itself: a new one, or one joined by
    /// a path that is not skiff's own (`/proc/self/ns/net` given as a path is the node's).
    func ownsNamespace(_ kind: Spec.NamespaceKind) -> Bool {
        guard let namespace = (spec.linux?.namespaces ?? []).first(where: { $0.kind == kind }) else { return false }
        guard let path = namespace.path else { return true }
        guard let joined = host.paths[path]?.identity, let own = host.ownNamespaces[kind] else { return false }
        return joined != own
    }

    var newNetworkNamespace: Bool {
        (spec.linux?.namespaces ?? []).contains { $0.kind == .network && $0.path == nil }
    }

    /// The plan for `create` and `run`.
    mutating func build() throws(RuntimeError) -> Output {
        var plan = LaunchPlan()
        var cloneFlags: UInt64 = 0
        let namespaces = spec.linux?.namespaces ?? []
        do { try SysctlPolicy.check(spec.linux?.sysctl ?? [:], ownsNamespace: ownsNamespace) } catch { throw .spec(error) }

        if options.network {
            // The task's rules, sent by skiff-init first thing, while it still has the node's
            // privileges (before any namespace is joined or made) and is already in the
            // container's cgroups, which are charged for them: see `TaskRulesChannel`.
            plan.sync(Self.syncNetworkRules)
            plan.sendRules()
        }
        // Namespaces: new ones at clone (cgroup and time later), existing ones joined by path,
        // a joined user namespace first (it grants the capabilities to join the others).
        var joinsPid = false
        var newFlags: UInt64 = 0
        let userFirst = namespaces.enumerated().filter { $0.element.kind == .user } + namespaces.enumerated().filter { $0.element.kind != .user }
        for (i, namespace) in userFirst {
            guard let kind = namespace.kind, let flag = Self.cloneFlags[kind] else { continue }
            if let path = namespace.path {
                let field = "linux.namespaces[\(i)].path"
                if let code = (host.paths[path] ?? .unreachable(ENOENT)).error { throw .spec(SpecError(field, SystemError(path, errno: code).description)) }
                plan.setNamespace(path: path, field: field, flag: flag)
                if kind == .pid { joinsPid = true }
            } else if kind != .cgroup && kind != .time && kind != .user {
                newFlags |= UInt64(flag)
            }
        }

        let process = spec.process!
        appendLimits(process, into: &plan)
        // The time namespace before any user namespace: its offsets are set with the
        // initial namespace's privileges (and while /proc/self is still ours to write).
        if namespaces.contains(where: { $0.kind == .time && $0.path == nil }) {
            let offsets = spec.linux?.timeOffsets ?? [:]
            let text = ["monotonic", "boottime"].map { clock in
                "\(clock) \(offsets[clock]?.secs ?? 0) \(offsets[clock]?.nanosecs ?? 0)\n"
            }.joined()
            plan.timeNamespace(offsets: text)
        }
        if newUserNamespace {
            // runc's order: the user namespace first and its maps written by the parent, then
            // every other namespace created from inside it, so that it owns them all.
            plan.unshare(Int64(SKIFF_CLONE_NEWUSER))
            plan.sync(Self.syncUserMaps)
            plan.becomeNamespaceRoot()
            if newFlags != 0 { plan.unshare(Int64(newFlags)) }
            if joinsPid || newFlags & UInt64(SKIFF_CLONE_NEWPID) != 0 { plan.fork() }
        } else {
            cloneFlags = newFlags
            if joinsPid { plan.fork() }
        }
        if !options.noNewKeyring { plan.sessionKeyring(named: options.containerID) }
        // The namespaces exist: the task's interface and the devices moved in first (hooks
        // may rely on them), then prestart and createRuntime hooks, in the runtime's namespaces.
        if options.network { plan.sync(Self.syncNetwork) }
        if !(spec.linux?.netDevices ?? [:]).isEmpty {
            // Moving the node's interfaces into the node's own namespace would do nothing; a
            // namespace joined by path must be the container's.
            guard ownsNamespace(.network) else {
                throw .spec(SpecError("linux.netDevices", "needs a network namespace of the container's own (this one is the runtime's)"))
            }
            plan.sync(Self.syncNetDevices)
        }
        let hooks = spec.hooks
        if !(hooks?.prestart ?? []).isEmpty || !(hooks?.createRuntime ?? []).isEmpty {
            plan.sync(Self.syncRuntimeHooks)
        }
        let newCgroupNamespace = namespaces.contains { $0.kind == .cgroup && $0.path == nil }
        if newCgroupNamespace { plan.unshare(Int64(SKIFF_CLONE_NEWCGROUP)) }
        if let hostname = spec.hostname, !hostname.isEmpty { plan.hostname(hostname) }
        if let domain = spec.domainname, !domain.isEmpty { plan.domainname(domain) }

        try buildRootfs(into: &plan, newCgroupNamespace: newCgroupNamespace)
        try appendProcess(process, into: &plan, waitForStart: options.waitForStart)
        do { try plan.checkLimits() } catch { throw .spec(error) }
        return Output(plan: plan, cloneFlags: cloneFlags, newUserNamespace: newUserNamespace, warnings: warnings)
    }

    // MARK: - Root filesystem

    /// Whether the config lists a mount namespace (new or joined). Namespaces are optional in
    /// the runtime spec: one that is not listed is the runtime's.
    var hasMountNamespace: Bool { (spec.linux?.namespaces ?? []).contains { $0.kind == .mount } }

    /// Without a mount namespace the container shares the node's mount table: it is
    /// chroot'ed into its root, and anything that would mount (and so change the node's
    /// mounts) is refused, naming the field. runc refuses masked and read-only paths there too.
    private func checkNoMountNamespace() throws(RuntimeError) {
        let why = "needs a mount namespace of the container's own (linux.namespaces has no \"mount\"): without one it would change the node's mounts"
        let linux = spec.linux
        let fields: [(String, Bool)] = [
            ("mounts", !(spec.mounts ?? []).isEmpty), ("root.readonly", spec.root?.readonly == true),
            ("linux.maskedPaths", !(linux?.maskedPaths ?? []).isEmpty), ("linux.readonlyPaths", !(linux?.readonlyPaths ?? []).isEmpty),
            ("linux.devices", !(linux?.devices ?? []).isEmpty), ("linux.rootfsPropagation", linux?.rootfsPropagation != nil),
            ("process.terminal", spec.process?.terminal == true),
        ]
        if let (field, _) = fields.first(where: { $0.1 }) { throw .spec(SpecError(field, why)) }
        if options.noPivot { throw .usage("--no-pivot: \(why)") }
    }

    private mutating func buildRootfs(into plan: inout LaunchPlan, newCgroupNamespace: Bool) throws(RuntimeError) {
        guard hasMountNamespace else {
            try checkNoMountNamespace()
            plan.appendExecLabels(for: spec.process!, host: host)
            plan.chroot(rootfs)
            plan.makeDirectory(spec.process!.cwd, mode: 0o755)
            appendContainerHooks(into: &plan)
            appendSysctls(into: &plan)
            return
        }
        // Nothing we mount may propagate back to the host.
        plan.propagation(MountFlag.slave | MountFlag.recursive, of: "/")
        plan.rootfs(rootfs, masks: spec.linux?.maskedPaths?.count ?? 0)
        // While /proc is still the host's: the label attributes are opened through it.
        plan.appendExecLabels(for: spec.process!, host: host)
        for (i, mount) in (spec.mounts ?? []).enumerated() {
            try appendMount(mount, index: i, into: &plan, newCgroupNamespace: newCgroupNamespace)
        }
        // runc creates a missing cwd (after the mounts: it may be inside one).
        plan.makeDirectory(spec.process!.cwd, mode: 0o755)
        try appendDevices(into: &plan)
        appendContainerHooks(into: &plan)

        plan.pivotRoot(noPivot: options.noPivot)
        if let propagation = spec.linux?.rootfsPropagation {
            plan.propagation(MountOptions([propagation]).propagation, of: "/")
        }
        // Through the container's /proc, before /proc/sys becomes read-only.
        appendSysctls(into: &plan)
        if spec.root?.readonly == true { plan.readonlyRoot() }
        for path in spec.linux?.readonlyPaths ?? [] { plan.readonlyPath(path) }
        for path in spec.linux?.maskedPaths ?? [] { plan.maskPath(path) }
        appendConsole(into: &plan, process: spec.process!, bindConsole: true)
    }

    private mutating func appendMount(_ mount: Spec.Mount, index: Int, into plan: inout LaunchPlan, newCgroupNamespace: Bool) throws(RuntimeError) {
        var options = MountOptions(mount.options ?? [])
        if mount.type == "bind" { options.flags |= MountFlag.bind }
        if mount.type == "cgroup" || mount.type == "cgroup2" {
            appendCgroupMount(mount.destination, options: options, into: &plan, newCgroupNamespace: newCgroupNamespace)
            return
        }
        if mount.type == "sysfs", newUserNamespace, !newNetworkNamespace {
            // sysfs can only be mounted by the owner of the network namespace: bind the host's, as runc does.
            plan.mount(
                "/sys", on: mount.destination, flags: options.flags | MountFlag.bind | MountFlag.recursive,
                cleared: options.clearedFlags, bind: true)
            return
        }
        if options.isBind {
            let source = HostFacts.bindSource(mount.source!, bundle: bundle)
            let fact = host.paths[source] ?? .unreachable(ENOENT)
            if let code = fact.error { throw .spec(SpecError("mounts[\(index)].source", SystemError(source, errno: code).description)) }
            let kind = if case .directory = fact { SKIFF_TARGET_DIR } else { SKIFF_TARGET_FILE }
            var idmap: DescriptorRequest?
            if let uids = mount.uidMappings, let gids = mount.gidMappings {
                idmap = .idmappedUserNamespace(uidMap: uids.mapFileText, gidMap: gids.mapFileText, field: "mounts[\(index)].uidMappings")
            }
            plan.mount(
                source, on: mount.destination, flags: options.flags, cleared: options.clearedFlags,
                propagation: options.propagation, kind: kind, bind: true, idmap: idmap)
        } else {
            var data = options.data
            if mount.type == "devpts", let option = data.first(where: { $0.hasPrefix("gid=") }), let gid = UInt64(option.dropFirst(4)), !groupIsMapped(gid) {
                // The kernel refuses a devpts owner group the user namespace cannot name (a
                // rootless engine with one mapped id); the terminals then belong to the
                // namespace's own group, as crun retries and runc's rootless spec has it.
                data.removeAll { $0 == option }
                warnings.append("mounts[\(index)].options: \(option) left out: group \(gid) has no mapping in the user namespace")
            }
            // SELinux: the files of the filesystems the container mounts get its mount label.
            if let label = spec.linux?.mountLabel, !label.isEmpty, Self.labelledFilesystems.contains(mount.type ?? "") {
                data.append("context=\"\(label)\"")
            }
            plan.mount(
                mount.source ?? mount.type!, on: mount.destination, type: mount.type!, data: data.joined(separator: ","),
                flags: options.flags, propagation: options.propagation, bind: false)
        }
    }

    /// Whether the container's user namespace can name group `gid`: its own mappings, or the
    /// namespace skiff runs in when it makes none.
    func groupIsMapped(_ gid: UInt64) -> Bool {
        if newUserNamespace {
            return (spec.linux?.gidMappings ?? []).contains { gid >= UInt64($0.containerID) && gid - UInt64($0.containerID) < UInt64($0.size) }
        }
        return !host.inUserNamespace || (spec.linux?.namespaces ?? []).contains { $0.kind == .user } || host.mappedGroups.contains { $0.contains(gid) }
    }

    /// `linux.sysctl`, in key order.
    private func appendSysctls(into plan: inout LaunchPlan) {
        for key in (spec.linux?.sysctl ?? [:]).keys.sorted() { plan.sysctl(key, spec.linux!.sysctl![key]!) }
    }

    /// Filesystems that take an SELinux `context=` mount option (runc labels the same).
    static let labelledFilesystems: Set<String> = ["tmpfs", "devpts", "mqueue", "shm"]

    /// `type: cgroup`: what the container's cgroup driver says its `/sys/fs/cgroup` shows
    /// (`CgroupMountView`), mounted with the config's flags.
    private func appendCgroupMount(_ destination: String, options: MountOptions, into plan: inout LaunchPlan, newCgroupNamespace: Bool) {
        let flags = options.flags & ~(MountFlag.bind | MountFlag.recursive)
        func mount(_ source: CgroupMountView.Source, at target: String) {
            switch source {
            case .fresh(let type, let data): plan.mount(type, on: target, type: type, data: data, flags: flags, bind: false)
            case .bind(let path): plan.mount(path, on: target, flags: flags | MountFlag.bind, bind: true)
            }
        }
        let namespaces = CgroupMountView.Namespaces(newCgroup: newCgroupNamespace, newUser: newUserNamespace)
        switch self.options.cgroupDriver.mountView(of: self.options.cgroup, namespaces: namespaces) {
        case .nodeTreeReadOnly:
            plan.mount("/sys/fs/cgroup", on: destination, flags: flags | MountFlag.bind | MountFlag.recursive | MountFlag.readOnly, bind: true)
        case .single(let source):
            mount(source, at: destination)
        case .perHierarchy(let entries):
            plan.mount("tmpfs", on: destination, type: "tmpfs", data: "mode=755", flags: flags & ~MountFlag.readOnly, bind: false)
            for entry in entries { mount(entry.source, at: destination + "/" + entry.name) }
            if flags & MountFlag.readOnly != 0 {
                plan.remount(destination, flags: flags & (MountFlag.readOnly | MountFlag.noSuid | MountFlag.noDev | MountFlag.noExec))
            }
        }
    }

    /// createContainer hooks run here, in the container's namespaces before pivot_root;
    /// startContainer hooks are handed over now and run just before the container's execve.
    /// Both get the state (as the parent sends it) on stdin.
    private func appendContainerHooks(into plan: inout LaunchPlan) {
        let create = spec.hooks?.createContainer ?? [], start = spec.hooks?.startContainer ?? []
        if !create.isEmpty { plan.sync(Self.syncCreateContainerState, keepPayloadIn: 0) }
        for hook in create { appendHook(hook, kind: "createContainer", deferred: false, slot: 0, into: &plan) }
        if !start.isEmpty { plan.sync(Self.syncStartContainerState, keepPayloadIn: 1) }
        for hook in start { appendHook(hook, kind: "startContainer", deferred: true, slot: 1, into: &plan) }
    }

    private func appendHook(_ hook: Spec.Hook, kind: String, deferred: Bool, slot: Int64, into plan: inout LaunchPlan) {
        let argv = hook.args?.isEmpty == false ? hook.args! : [hook.path]
        plan.hook(kind, path: hook.path, argv: argv, env: hook.env ?? [], timeout: hook.timeout ?? 0, deferred: deferred, slot: slot)
    }

    /// Whether device nodes are bind-mounted from the host rather than made: the kernel lets
    /// no user namespace but the initial one make them (the container's own, one it joins, or
    /// the one skiff runs in, as under rootless podman), as runc and crun do.
    var bindsDevices: Bool { host.inUserNamespace || (spec.linux?.namespaces ?? []).contains { $0.kind == .user } }

    private func appendDevices(into plan: inout LaunchPlan) throws(RuntimeError) {
        let configured = spec.linux?.devices ?? []
        for (i, device) in configured.enumerated() where bindsDevices && (host.paths[device.path] ?? .unreachable(ENOENT)).error != nil {
            throw .spec(SpecError("linux.devices[\(i)].path", "\(device.path) does not exist on the host (in a user namespace devices are bind-mounted from the host)"))
        }
        let defaults = Spec.Device.standard.filter { d in !configured.contains { $0.path == d.path } }
        for device in defaults + configured {
            if bindsDevices {
                plan.mount(device.path, on: device.path, flags: MountFlag.bind, kind: SKIFF_TARGET_FILE, bind: true)
                continue
            }
            let type: Int64 =
                switch device.type {
                case "b": Int64(S_IFBLK)
                case "p": Int64(S_IFIFO)
                default: Int64(S_IFCHR)
                }
            let mode = type | Int64((device.fileMode ?? 0o666) & 0o7777)
            let dev = Self.makedev(major: device.major ?? 0, minor: device.minor ?? 0)
            plan.makeNode(device.path, mode: mode, device: dev, uid: device.uid ?? 0, gid: device.gid ?? 0)
        }
        for (target, link) in [
            ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
            ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
            ("pts/ptmx", "/dev/ptmx"),
        ] {
            plan.symlink(target, at: link)
        }
    }

    /// glibc's makedev(3).
    static func makedev(major: Int64, minor: Int64) -> Int64 {
        let major = UInt64(bitPattern: major), minor = UInt64(bitPattern: minor)
        let dev = ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff)
        return Int64(bitPattern: dev)
    }

    // MARK: - Credentials

    /// The value of SECCOMP_FILTER_FLAG_NEW_LISTENER.
    static let newListenerFlag: UInt32 = 1 << 3

    mutating func buildCredentials(into plan: inout LaunchPlan, process: Spec.Process, keepSysAdmin: Bool = false) throws(RuntimeError) {
        let last = host.lastCapability
        // Outside a new user namespace the process can only get capabilities skiff holds.
        let held = newUserNamespace ? UInt64.max : host.heldCapabilities
        var missing: (String, String)?
        func mask(_ names: [String]?, _ set: String) -> Int64 {
            var bits: UInt64 = 0
            for name in names ?? [] {
                let number = LinuxNames.capabilities[name]!
                if number > last {
                    warnings.append("process.capabilities.\(set): \(name) is not known to this kernel, skipped")
                    continue
                }
                if held & (1 << UInt64(number)) == 0, missing == nil { missing = (set, name) }
                bits |= 1 << UInt64(number)
            }
            return Int64(bitPattern: bits)
        }
        let caps = process.capabilities
        plan.bounding(keep: mask(caps?.bounding, "bounding"), lastCapability: last)
        let user = process.user
        plan.user(uid: user.uid, gid: user.gid, umask: user.umask, additionalGids: user.additionalGids ?? [])
        let permitted = mask(caps?.permitted, "permitted"), inheritable = mask(caps?.inheritable, "inheritable")
        var ambient = mask(caps?.ambient, "ambient")
        // The kernel raises an ambient capability only if it is both permitted and inheritable.
        // crun's and buildah's configs list ambient capabilities without the inheritable set;
        // runc and crun skip those with a warning, and so does skiff (naming each one).
        var skipped: [String] = []
        for name in caps?.ambient ?? [] {
            guard let number = LinuxNames.capabilities[name], number <= last else { continue }
            let bit = Int64(bitPattern: 1 << UInt64(number))
            guard ambient & bit != 0, permitted & inheritable & bit != bit else { continue }
            skipped.append(name)
            ambient &= ~bit
        }
        if !skipped.isEmpty {
            warnings.append(
                "process.capabilities.ambient: \(skipped.joined(separator: ", ")) not raised: the kernel raises an ambient capability only if it is also permitted and inheritable"
            )
        }
        let effective = mask(caps?.effective, "effective")
        let sysAdmin = Int64(1) << 21
        if keepSysAdmin, effective & sysAdmin == 0, let profile = spec.linux?.seccomp, !profile.allows("capset") {
            // The one call skiff-init must make after the filter is in: without it the process
            // would keep CAP_SYS_ADMIN. Refused rather than run with more than the config says.
            throw .spec(
                SpecError(
                    "linux.seccomp",
                    "denies capset, which skiff must call after loading the filter to drop CAP_SYS_ADMIN (loading a filter without process.noNewPrivileges needs it): allow capset, or set noNewPrivileges"
                ))
        }
        plan.capabilities(
            effective: effective, permitted: permitted, inheritable: inheritable, ambient: ambient,
            lastCapability: last, keepSysAdmin: keepSysAdmin)
        if let (set, name) = missing {
            throw .spec(SpecError("process.capabilities.\(set)", "\(name) is not held by skiff itself, so it cannot grant it"))
        }
    }
}
