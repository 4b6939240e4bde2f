import CShims
import Glibc
import SkiffCgroups
import SkiffNetwork
import SkiffSeccomp
import SkiffSpec

/// How to create a container (runc's `create` flags).
public struct CreateOptions: Sendable {
    public var bundle: String
    public var pidFile: String?
    public var noPivot = false
    /// Keep the creator's session keyring instead of joining a new one named after the
    /// container (runc's default too: a container should not see its creator's keys).
    public var noNewKeyring = false
    /// Descriptors 3 ..< 3+preserveFds are passed to the container process.
    public var preserveFds = 0
    public var consoleSocket: String?

    public init(bundle: String, pidFile: String? = nil) {
        self.bundle = bundle
        self.pidFile = pidFile
    }
}

/// The container lifecycle: create, start, state, kill, delete, run, list. The command line
/// is a thin layer over this; a Swift program can embed it the same way.
public struct Runtime: Sendable {
    public let store: StateStore
    /// Receives warnings (a capability the kernel lacks, ...).
    public var warn: @Sendable (String) -> Void
    /// Receives debug messages (each step of create with its elapsed time), if set.
    public var debug: (@Sendable (String) -> Void)?
    /// Receives notes worth saying once (which cgroup hierarchy is in use).
    public var note: @Sendable (String) -> Void = { _ in }

    public init(root: String = StateStore.defaultRoot, warn: @escaping @Sendable (String) -> Void = { _ in },
                debug: (@Sendable (String) -> Void)? = nil) {
        self.store = StateStore(root: root)
        self.warn = warn
        self.debug = debug
    }

    /// Logs `step` with the milliseconds since `start` (for --debug).
    private func trace(_ step: @autoclosure () -> String, since start: timespec) {
        guard let debug else { return }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let ms = Double(now.tv_sec - start.tv_sec) * 1000 + Double(now.tv_nsec - start.tv_nsec) / 1e6
        debug("\(step()) (+\((ms * 1000).rounded() / 1000) ms)")
    }

    // MARK: create

    public func create(id: String, options: CreateOptions) throws(RuntimeError) {
        let created = try prepareAndLaunch(id: try ContainerID(id), options: options, waitForStart: true)
        if created.process.pidfd >= 0 { close(created.process.pidfd) }
    }

    private struct Created {
        var directory: ContainerDirectory
        var record: ContainerRecord
        var process: LaunchedProcess
        /// Our end of the console socket when skiff relays the terminal itself (else -1).
        var relaySocket: Int32 = -1
    }

    /// Everything up to READY. Bad input is rejected before anything exists; after the
    /// state directory is claimed, any failure removes all that was made.
    private func prepareAndLaunch(id: ContainerID, options: CreateOptions, waitForStart: Bool, relayTerminal: Bool = false) throws(RuntimeError) -> Created {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let bundle = try absoluteDirectory(options.bundle, what: "bundle")
        let spec: Spec
        do { spec = try SpecLoader.load(bundle: bundle) } catch { throw .spec(error) }
        do { try CgroupManager.validate(cgroupsPath: spec.linux?.cgroupsPath) } catch { throw .spec(error) }
        let rootPath = spec.root!.path
        let rootfs = try absoluteDirectory(rootPath.hasPrefix("/") ? rootPath : bundle + "/" + rootPath, what: "root.path")
        if rootfs == "/" {
            // A symlink to / (or "/" itself): the container would be the node, every file of it writable.
            throw .spec(SpecError("root.path", "\"\(rootPath)\" resolves to /, the node's own root: a container needs a root of its own"))
        }

        do { try SecurityModules.check(spec.process!, mountLabel: spec.linux?.mountLabel) } catch { throw .spec(error) }
        let network = try Self.network(of: spec)
        var networkLeases: String?
        if let network {
            // The node's own interfaces are checked before anything exists.
            do throws(NetworkError) {
                try TaskNetwork.check(network)
                networkLeases = try TaskNetwork.leaseDirectory()
            } catch { throw RuntimeError(error) }
        }
        trace("loaded config.json", since: start)
        let manager = CgroupManager()
        reportLayoutOnce(manager.system)
        var cgroup: ContainerCgroup? = manager.plan(cgroupsPath: spec.linux?.cgroupsPath, id: id.value)
        if geteuid() == 0, manager.system.participating().isEmpty {
            // Under `ip netns exec` (a fresh /sys) no hierarchy is visible: the task would run
            // unlimited and delete could not find it. runc refuses too.
            throw .usage("no cgroup hierarchy is mounted in this mount namespace (is /sys/fs/cgroup mounted?): refusing to run a container no limit or delete could reach")
        }
        if geteuid() != 0, let planned = cgroup, !planned.canBeCreated {
            // Rootless without delegated cgroups: run, but say that nothing limits the task.
            note("rootless: uid \(geteuid()) cannot create cgroups here (nothing is delegated to it); the container runs without cgroup limits")
            cgroup = nil
        }
        if let planned = cgroup {
            do { try manager.checkPlacement(planned) } catch { throw .spec(error) }
        }
        var resources: ResourcePlan
        do { resources = try manager.plan(cgroup == nil ? Spec.Resources() : spec.linux?.resources ?? Spec.Resources()) } catch { throw .spec(error) }
        if cgroup == nil, spec.linux?.resources.map({ $0 != Spec.Resources() && $0 != Spec.Resources(devices: $0.devices) }) == true {
            warn("linux.resources: not applied (no cgroup)")
        }
        if var planned = cgroup, planned.directories.contains(where: \.existed), case let occupants = planned.pids(), !occupants.isEmpty {
            // runc's reading: a warning, and the container joins. But the cgroup is not the
            // container's: limits would bind the processes already there, and delete must
            // leave them alone.
            if let write = resources.writes.first {
                throw .spec(SpecError(write.field, "the cgroup \(planned.relativePath) already holds \(occupants.count) process(es) that are not this container's: a limit written there would bind them too"))
            }
            warn("linux.cgroupsPath: the cgroup \(planned.relativePath) already holds \(occupants.count) process(es); the container joins it, and skiff will not kill or remove them")
            planned.shared = true
            cgroup = planned
        }
        if var planned = cgroup {
            manager.planControllers(&planned, for: resources)
            cgroup = planned
        }
        resources.devices?.allowStandardDevices(plus: spec.linux?.devices ?? [])
        resources.warnings.forEach(warn)
        var seccompFilter: SeccompFilter?
        var seccompFd: Int32 = -1
        defer { if seccompFd >= 0 { close(seccompFd) } }
        if let section = spec.linux?.seccomp {
            do {
                seccompFilter = try SeccompCompiler.check(section)
                seccompFd = try SeccompCache(root: store.root).open(section)
            } catch { throw .spec(error) }
            seccompFilter?.warnings.forEach(warn)
        }
        trace("seccomp filter ready", since: start)
        var builder = PlanBuilder(spec: spec, bundle: bundle, rootfs: rootfs, cgroupSystem: manager.system, cgroup: cgroup)
        if let seccompFilter { builder.seccomp = (seccompFd, seccompFilter.flags) }
        let console = try Self.console(terminal: spec.process?.terminal == true, socketPath: options.consoleSocket, relay: relayTerminal)
        defer { if console.child >= 0 { close(console.child) } }
        builder.consoleSocket = console.child >= 0 ? console.child : nil
        builder.noPivot = options.noPivot
        builder.noNewKeyring = options.noNewKeyring
        builder.containerID = id.value
        builder.preserveFds = options.preserveFds
        builder.network = network != nil
        var output = try builder.build(waitForStart: waitForStart)
        defer { output.openedDescriptors.forEach { close($0) } }
        builder.warnings.forEach(warn)
        trace("built the launch plan (\(output.plan.operations.count) operations)", since: start)

        let directory = try store.claim(id)
        var record = ContainerRecord(
            ociVersion: spec.ociVersion, id: id.value, status: .creating, pid: 0, bundle: bundle, rootfs: rootfs,
            created: Self.timestamp(), ownerUID: geteuid(), annotations: spec.annotations, cgroup: cgroup,
            poststart: spec.hooks?.poststart, poststop: spec.hooks?.poststop)
        record.networkBridge = network?.bridge
        record.networkLeases = networkLeases
        var cgroupMade = false
        do throws(RuntimeError) {
            // The record names the cgroup before it exists: delete --force after a crash
            // at any later instant finds and removes it.
            try directory.write(record)
            if let cgroup {
                do { try manager.create(cgroup, plan: resources) } catch { throw .cgroup(error) }
                cgroupMade = true
                trace("created cgroup \(cgroup.relativePath)", since: start)
            }
            var fifo: Int32 = -1
            defer { if fifo >= 0 { close(fifo) } }
            if let index = output.fifoIndex {
                try check(mkfifo(directory.fifoPath, 0o600), "creating \(directory.fifoPath)")
                // Read-write, so the init's read blocks until `start` writes (never EOF).
                fifo = try check(open(directory.fifoPath, O_RDWR | O_CLOEXEC), "opening \(directory.fifoPath)")
                output.plan.descriptors[Int(index)] = fifo
            }
            let creating = record
            let hooks = spec.hooks
            let owner = directory.path
            let process = try launchExplained(output.plan, cloneFlags: output.cloneFlags, cgroup: cgroup, spec: spec,
                                              userMaps: builder.newUserNamespace ? Self.userMaps(spec) : nil) { tag, pid throws(RuntimeError) -> [UInt8] in
                var current = creating
                current.pid = pid
                switch tag {
                case PlanBuilder.syncNetwork:
                    guard let network else { return [] }
                    do throws(NetworkError) { _ = try TaskNetwork.setUp(network, owner: owner, namespacePath: "/proc/\(pid)/ns/net", leases: networkLeases!) }
                    catch { throw RuntimeError(error) }
                    return []
                case PlanBuilder.syncRuntimeHooks:
                    let state = Self.ociState(current, status: .creating)
                    do throws(HookRunner.Failure) {
                        try HookRunner.run(hooks?.prestart ?? [], kind: "prestart", state: state)
                        try HookRunner.run(hooks?.createRuntime ?? [], kind: "createRuntime", state: state)
                    } catch { throw .hook(error.description) }
                    return []
                case PlanBuilder.syncCreateContainerState: return Self.ociState(current, status: .creating).serializedBytes()
                case PlanBuilder.syncStartContainerState: return Self.ociState(current, status: .created).serializedBytes()
                default: return []
                }
            }
            trace("container process \(process.pid) ready", since: start)
            record.pid = process.pid
            record.pidStartTime = ProcessStat(pid: process.pid)?.startTime
            if let namespace = readLink("/proc/\(process.pid)/ns/pid"), namespace != readLink("/proc/self/ns/pid") {
                record.pidNamespace = namespace
            }
            record.status = waitForStart ? .created : .running
            do {
                if process.listenerFd >= 0, let filter = seccompFilter {
                    defer { close(process.listenerFd) }
                    try SeccompListener.send(process.listenerFd, to: filter.listenerPath ?? "", metadata: filter.listenerMetadata,
                                             state: Self.ociState(record, status: .creating))
                }
                try directory.write(record)
                if let pidFile = options.pidFile {
                    // The bare number, no newline: containerd cannot parse "123\n".
                    try writeAtomically(String(process.pid), to: pidFile)
                }
            } catch {
                Glibc.kill(process.pid, SIGKILL)
                throw error
            }
            return Created(directory: directory, record: record, process: process, relaySocket: console.relay)
        } catch {
            if console.relay >= 0 { close(console.relay) }
            // Only what skiff made: the init (if any) was killed by the launcher.
            if cgroupMade { try? cgroup?.destroy(belongs: { _ in false }) }
            if let network {
                do throws(NetworkError) {
                    try TaskNetwork.tearDown(bridge: network.bridge, owner: directory.path, leases: networkLeases!).finish()
                } catch { warn(error.description) }
            }
            try? directory.remove()
            throw error
        }
    }

    /// `Launcher.launch`, with the cause said when skiff-init was killed before it was ready
    /// by the memory limit of its own cgroup (a limit below what a process needs to start).
    private func launchExplained(_ plan: LaunchPlan, cloneFlags: UInt64, cgroup: ContainerCgroup?, spec: Spec,
                                 userMaps: Launcher.UserMaps?, sync: Launcher.SyncHandler?) throws(RuntimeError) -> LaunchedProcess {
        do throws(RuntimeError) {
            return try Launcher.launch(plan, cloneFlags: cloneFlags, cgroup: cgroup, userMaps: userMaps, sync: sync)
        } catch {
            if case .container(let step, _, _) = error, step == "skiff-init", let cgroup, cgroup.stats().memory.oomKills > 0,
               let limit = spec.linux?.resources?.memory?.limit {
                throw .spec(SpecError("linux.resources.memory.limit", "\(limit) bytes is too little for the container to start: the kernel's OOM killer ended its setup"))
            }
            throw error
        }
    }

    /// The task's own network, if its annotations ask for one. It needs a new network
    /// namespace; a container that joins one by path shares that task's interface and rules,
    /// so its annotations are checked but not acted on.
    static func network(of spec: Spec) throws(RuntimeError) -> NetworkConfig? {
        let config: NetworkConfig?
        do { config = try NetworkConfig.parse(annotations: spec.annotations) } catch { throw .spec(error) }
        guard config != nil else { return nil }
        let namespace = (spec.linux?.namespaces ?? []).first { $0.kind == .network }
        guard let namespace else {
            throw .spec(SpecError("annotations[\"\(NetworkConfig.prefix)*\"]",
                                  "a task's own network needs a new network namespace (linux.namespaces has no \"network\" entry)"))
        }
        return namespace.path == nil ? config : nil
    }

    /// Says once (per state root, and so per boot for /run) which cgroup hierarchy carries
    /// which controllers; again whenever that changes.
    private func reportLayoutOnce(_ system: CgroupSystem) {
        let marker = store.root + "/.cgroup-layout"
        let layout = system.layout
        if let seen = try? readFile(marker), String(decoding: seen, as: UTF8.self) == layout { return }
        note("cgroup layout: \(layout)")
        mkdir(store.root, 0o711)
        // Written in place, not through a temporary file a killed create could leave
        // behind: a torn marker only means the note is said once more.
        let fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd >= 0 {
            _ = layout.withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
    }

    /// The console socket skiff-init sends the pty master on: the one at `socketPath`, or a
    /// socketpair whose other end skiff keeps to relay the terminal itself (`relay`).
    static func console(terminal: Bool, socketPath: String?, relay: Bool) throws(RuntimeError) -> (child: Int32, relay: Int32) {
        guard terminal else {
            if socketPath != nil { throw .usage("--console-socket: only for a process with a terminal (process.terminal: true)") }
            return (-1, -1)
        }
        if let socketPath { return (try UnixSocket.connect(socketPath, field: "--console-socket"), -1) }
        guard relay else { throw .usage("process.terminal: a terminal needs --console-socket (or a foreground run)") }
        var pair: [Int32] = [-1, -1]
        try check(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair), "creating the console socket")
        return (pair[1], pair[0])
    }

    private func absoluteDirectory(_ path: String, what: String) throws(RuntimeError) -> String {
        guard let resolved = realpath(path, nil) else {
            let why = String(cString: strerror(errno))
            throw what == "bundle" ? .usage("bundle \(path): \(why)") : .spec(SpecError(what, "\(path): \(why)"))
        }
        defer { free(resolved) }
        let result = String(cString: resolved)
        var st = stat()
        guard stat(result, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw what == "bundle" ? .usage("bundle \(path): not a directory") : .spec(SpecError(what, "\(path): not a directory"))
        }
        return result
    }

    static func userMaps(_ spec: Spec) -> Launcher.UserMaps {
        func lines(_ mappings: [Spec.IDMapping]?) -> String {
            (mappings ?? []).map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
        }
        return Launcher.UserMaps(uid: lines(spec.linux?.uidMappings), gid: lines(spec.linux?.gidMappings))
    }

    /// The OCI state of `record` as the runtime spec shapes it (for listeners and hooks).
    static func ociState(_ record: ContainerRecord, status: ContainerStatus) -> JSONValue {
        .object([("ociVersion", .string(record.ociVersion)), ("id", .string(record.id)), ("status", .string(status.rawValue)),
                 ("pid", .number(String(record.pid))), ("bundle", .string(record.bundle)),
                 ("annotations", .object((record.annotations ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))])
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &time)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(time.tm_year + 1900)-\(pad(time.tm_mon + 1, 2))-\(pad(time.tm_mday, 2))T\(pad(time.tm_hour, 2)):\(pad(time.tm_min, 2)):\(pad(time.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1000), 6))Z"
    }

    /// The name of `uid` from /etc/passwd (read directly: skiff is a static binary, and
    /// glibc's NSS cannot be loaded into one).
    static func userName(_ uid: UInt32) -> String {
        let passwd = (try? readFile("/etc/passwd")) ?? []
        for line in passwd.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            if fields.count > 2, UInt32(String(decoding: fields[2], as: UTF8.self)) == uid {
                return String(decoding: fields[0], as: UTF8.self)
            }
        }
        return String(uid)
    }

    // MARK: start

    public func start(id: String) throws(RuntimeError) {
        let id = try ContainerID(id)
        let directory = try store.lock(id)
        guard var record = try store.read(id) else { throw .wrongState(id: id.value, status: .creating, action: "start") }
        let status = self.status(of: record, directory: directory)
        guard status == .created else { throw .wrongState(id: id.value, status: status, action: "start") }
        let fifo = open(directory.fifoPath, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fifo >= 0 else {
            // ENXIO: nobody holds the read end, the init is gone.
            throw errno == ENXIO ? .wrongState(id: id.value, status: .stopped, action: "start")
                                 : .system("opening \(directory.fifoPath)", errno)
        }
        var byte: UInt8 = 0
        let written = write(fifo, &byte, 1)
        close(fifo)
        try check(written, "releasing the container process")
        // The process runs from here on: a scheduler told "start failed" would think it is not
        // running. What is left is bookkeeping (the status is also read from the fifo's
        // absence), so its failures are warnings.
        unlink(directory.fifoPath)
        record.status = .running
        do { try directory.write(record) } catch { warn("start: container \"\(id.value)\" is running, but its state could not be recorded: \(error)") }
        runPoststart(record)
    }

    /// poststart hooks: after the process started; a failure is only a warning (runtime spec).
    func runPoststart(_ record: ContainerRecord) {
        guard let hooks = record.poststart, !hooks.isEmpty else { return }
        HookRunner.runAll(hooks, kind: "poststart", state: Self.ociState(record, status: .running)).forEach { warn($0.description) }
    }

    // MARK: state

    public func state(id: String) throws(RuntimeError) -> ContainerState {
        let id = try ContainerID(id)
        guard let record = try store.read(id) else {
            return ContainerState(ociVersion: "1.2.0", id: id.value, pid: 0, status: .creating, bundle: "", rootfs: "",
                                  created: "", owner: "", annotations: nil)
        }
        let status = self.status(of: record, directory: nil)
        return ContainerState(ociVersion: record.ociVersion, id: record.id, pid: status == .stopped ? 0 : record.pid,
                              status: status, bundle: record.bundle, rootfs: record.rootfs, created: record.created,
                              owner: Self.userName(record.ownerUID), annotations: record.annotations)
    }

    /// The live status: what the record says, checked against the process.
    func status(of record: ContainerRecord, directory: ContainerDirectory?) -> ContainerStatus {
        switch record.status {
        case .creating:
            // Still being created only if its creator still holds the lock.
            if directory != nil { return .stopped }
            let fd = open(store.path(of: try! ContainerID(record.id)), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { return .stopped }
            defer { close(fd) }
            return flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK ? .creating : .stopped
        case .stopped:
            return .stopped
        default:
            guard ProcessStat.isRunning(pid: record.pid, startTime: record.pidStartTime) else { return .stopped }
            if record.status == .created, access(store.path(of: try! ContainerID(record.id)) + "/exec.fifo", F_OK) == 0 {
                return .created
            }
            return record.cgroup?.isFrozen == true ? .paused : .running
        }
    }

    /// Every container of this root; one whose record cannot be read is listed as
    /// `unreadable` (so that it can be found and deleted), not left out.
    public func list() -> [ContainerState] {
        store.list().compactMap { id in
            do throws(RuntimeError) { return try state(id: id.value) } catch {
                guard case .unreadableState = error else { return nil }
                return ContainerState(ociVersion: "", id: id.value, pid: 0, status: .unreadable, bundle: "", rootfs: "",
                                      created: "", owner: "", annotations: nil)
            }
        }
    }

    // MARK: kill

    public func kill(id: String, signal: Int32, all: Bool = false) throws(RuntimeError) {
        let id = try ContainerID(id)
        guard let record = try store.read(id) else { throw .wrongState(id: id.value, status: .creating, action: "signal") }
        let status = self.status(of: record, directory: nil)
        guard status == .created || status == .running || status == .paused else {
            throw .wrongState(id: id.value, status: status, action: "signal")
        }
        if all, let cgroup = record.cgroup {
            cgroup.signal(signal, belongs: Self.belongs(to: record))
            return
        }
        try Self.signal(pid: record.pid, startTime: record.pidStartTime, signal)
    }

    /// Which processes in a cgroup skiff did not make are the container's: those in its own
    /// pid namespace, or (sharing skiff's) its init alone.
    static func belongs(to record: ContainerRecord) -> (Int32) -> Bool {
        if let namespace = record.pidNamespace {
            return { pid in readLink("/proc/\(pid)/ns/pid") == namespace }
        }
        return { pid in pid == record.pid && ProcessStat.isRunning(pid: pid, startTime: record.pidStartTime) }
    }

    /// Signal through a pidfd checked against the start time: never a recycled pid.
    static func signal(pid: Int32, startTime: UInt64?, _ signal: Int32) throws(RuntimeError) {
        let pidfd = skiff_pidfd_open(pid)
        guard pidfd >= 0 else {
            if errno == ESRCH { return }
            try check(Glibc.kill(pid, signal), "signalling \(pid)")
            return
        }
        defer { close(pidfd) }
        guard ProcessStat.isRunning(pid: pid, startTime: startTime) else { return }
        if skiff_pidfd_send_signal(pidfd, signal) != 0, errno != ESRCH { throw .system("signalling \(pid)", errno) }
    }

    // MARK: delete

    /// Remove a container. A running one needs `force` (it is killed first). With `force`,
    /// a container that does not exist is not an error (containerd relies on this).
    public func delete(id: String, force: Bool = false) throws(RuntimeError) {
        let id = try ContainerID(id)
        if force { store.removeAbandonedClaims(of: id) }
        let directory: ContainerDirectory
        do { directory = try store.lock(id) } catch {
            if case .notFound = error, force { return }
            throw error
        }
        let found: ContainerRecord?
        do throws(RuntimeError) { found = try store.read(id) } catch {
            guard case .unreadableState = error, force else { throw error }
            try destroyUnreadable(id, directory: directory)
            return
        }
        guard let record = found else {
            // Claimed by a create that died before writing anything: nothing else exists.
            try directory.remove()
            return
        }
        let status = self.status(of: record, directory: directory)
        if status == .running || status == .paused, !force {
            throw .usage("cannot delete container \"\(id.value)\": it is \(status.rawValue) (stop it first, or use --force)")
        }
        try destroy(record, directory: directory)
    }

    /// `delete --force` of a container whose record cannot be read: what can be known from the
    /// id alone goes. Its cgroup at the default path (`skiff-<id>` under skiff's own, a name
    /// only skiff gives), with every process in it, and every lease the container's state
    /// directory holds on any node, with its rules and veth; then the directory.
    private func destroyUnreadable(_ id: ContainerID, directory: ContainerDirectory) throws(RuntimeError) {
        var cgroup = CgroupManager().plan(cgroupsPath: nil, id: id.value)
        cgroup.directories = cgroup.directories.filter(\.existed)
        for i in cgroup.directories.indices { cgroup.directories[i].existed = false }
        if !cgroup.directories.isEmpty {
            do { try cgroup.destroy(belongs: { _ in true }) } catch { throw .cgroup(error) }
        }
        for (leases, bridge) in TaskNetwork.leases(of: directory.path) {
            let release = try releaseNetwork(bridge: bridge, leases: leases, owner: directory.path, taskRunning: false)
            do throws(NetworkError) { try release.finish() } catch { warn(error.description) }
        }
        try directory.remove()
    }

    private func destroy(_ record: ContainerRecord, directory: ContainerDirectory) throws(RuntimeError) {
        // The network first: its port is fenced and its rules go before the task is killed,
        // and the kernel's wait for the deleted rules overlaps the rest of the teardown.
        let network = try removeNetwork(of: record)
        if record.pid > 0 { try? Self.signal(pid: record.pid, startTime: record.pidStartTime, SIGKILL) }
        if let cgroup = record.cgroup {
            do { try cgroup.destroy(belongs: Self.belongs(to: record)) } catch { throw .cgroup(error) }
        }
        // The init may sit outside every cgroup only if the host has none: wait for it.
        var waited = 0
        while record.pid > 0, waited < 1000, ProcessStat.isRunning(pid: record.pid, startTime: record.pidStartTime) {
            usleep(1000)
            waited += 1
        }
        if let network = consume network {
            // The rules and the lease are gone already; a veth that cannot be removed is fenced.
            do throws(NetworkError) { try network.finish() } catch { warn(error.description) }
        }
        try directory.remove()
        if let hooks = record.poststop, !hooks.isEmpty {
            HookRunner.runAll(hooks, kind: "poststop", state: Self.ociState(record, status: .stopped)).forEach { warn($0.description) }
        }
    }

    /// The task's rules, lease and fenced port, removed in the node it was created from
    /// (which need not be this namespace: found by its name, or gone with everything in it).
    private func removeNetwork(of record: ContainerRecord) throws(RuntimeError) -> TaskNetwork.Release? {
        guard let bridge = record.networkBridge, let leases = record.networkLeases else { return nil }
        let running = record.pid > 0 && ProcessStat.isRunning(pid: record.pid, startTime: record.pidStartTime)
        return try releaseNetwork(bridge: bridge, leases: leases, owner: store.path(of: try ContainerID(record.id)), taskRunning: running)
    }

    /// The rules, lease and fenced port `owner` holds on `bridge`, removed in the node whose
    /// leases are in `leases` (which need not be this namespace: found by its cookie, or gone
    /// with everything in it, when only the lease is left to release).
    func releaseNetwork(bridge: String, leases: String, owner: String, taskRunning: Bool) throws(RuntimeError) -> TaskNetwork.Release {
        var node = TaskNetwork.Node.current
        var nodeFd: Int32 = -1
        defer { if nodeFd >= 0 { close(nodeFd) } }
        if (try? TaskNetwork.leaseDirectory()) != leases {
            node = .gone
            if let path = TaskNetwork.findNode(leaseDirectory: leases) {
                nodeFd = open(path, O_RDONLY | O_CLOEXEC)
                if nodeFd >= 0 { node = .namespace(nodeFd) }
            }
        }
        do throws(NetworkError) {
            return try TaskNetwork.tearDown(bridge: bridge, owner: owner, leases: leases, node: node, taskRunning: taskRunning)
        }
        catch { throw RuntimeError(error) }
    }

    // MARK: run

    /// create + start + wait + delete. Signals sent to this process are forwarded to the
    /// container; the result is the container's exit status (128+N when killed by signal N).
    /// With `detach`, returns 0 once the process runs and leaves it running.
    public func run(id: String, options: CreateOptions, detach: Bool = false) throws(RuntimeError) -> Int32 {
        let id = try ContainerID(id)
        if detach {
            let created = try prepareAndLaunch(id: id, options: options, waitForStart: false)
            if created.process.pidfd >= 0 { close(created.process.pidfd) }
            runPoststart(created.record)
            return 0
        }
        // Reap the container even when it is a grandchild (a joined pid namespace).
        skiff_become_subreaper()
        let forwarder = try SignalForwarder()
        defer { forwarder.restore() }
        let created = try prepareAndLaunch(id: id, options: options, waitForStart: false, relayTerminal: true)
        let record = created.record
        let pidfd = created.process.pidfd
        var relay: TerminalRelay?
        if created.relaySocket >= 0 {
            defer { close(created.relaySocket) }
            relay = TerminalRelay(master: try TerminalRelay.receiveMaster(from: created.relaySocket))
        }
        defer { if pidfd >= 0 { close(pidfd) } }
        // Let `kill`, `state` and `delete` in: the container's lifetime is not a lock's.
        created.directory.unlock()
        runPoststart(record)
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let status = forwarder.wait(for: record.pid, pidfd: pidfd, relay: relay)
        relay = nil   // the terminal is restored before anything else is said
        trace("container process exited with status \(status)", since: start)
        try delete(id: id.value, force: true)
        trace("deleted", since: start)
        return status
    }
}
