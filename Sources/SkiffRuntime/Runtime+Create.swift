// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffCgroups
import SkiffNetwork
import SkiffSeccomp
import SkiffSpec
import SkiffSystem

/// `create`, as one story. `prepareAndLaunch` reads top to bottom as its phases, each a method
/// below in the order it runs:
///
/// 1. `loadBundle`: config.json parsed and validated, the root resolved; bad input stops here.
/// 2. `planEnvelope`: the cgroup (where, whose, what it limits) and the network (which node,
///    which bridge); nothing is made yet.
/// 3. `SeccompProgram.prepare`: the filter compiled to BPF (cached per profile).
/// 4. `buildPlan`: the launch plan for skiff-init, every decision made (`PlanBuilder`).
/// 5. claim: the state directory, and the record naming all that will exist, written first.
/// 6. launch: the cgroup made, skiff-init cloned into it; its SYNC points are `CreateSync`.
/// 7. `recordLaunched`: pid, seccomp listener, state, pid file.
/// 8. undo: after a failure anywhere from 5 on, everything made is removed.
///
/// `exec` shares phases 3, 6 (the launch itself) and 7 (`handOver`).
extension Runtime {
    struct Created {
        var directory: ContainerDirectory
        var record: ContainerRecord
        var process: LaunchedProcess
        /// Our end of the console socket when skiff relays the terminal itself.
        var relaySocket: SharedDescriptor?
    }

    /// Everything up to READY.
    func prepareAndLaunch(id: ContainerID, options: CreateOptions, waitForStart: Bool, relayTerminal: Bool = false) throws(RuntimeError) -> Created {
        let clock = Stopwatch()
        try store.refuseExisting(id)
        let bundle = try loadBundle(options)
        trace("loaded config.json", since: clock)
        var envelope = try planEnvelope(bundle.spec, id: id)
        let seccomp = try SeccompProgram.prepare(bundle.spec.linux?.seccomp, root: store.root, warn: warn)
        trace("seccomp filter ready", since: clock)
        let console = try Self.console(terminal: bundle.spec.process?.terminal == true, socketPath: options.consoleSocket, relay: relayTerminal)
        let pidfdSocket = try PidfdSocket(options.pidfdSocket)
        var rules: TaskRulesChannel?
        if envelope.network != nil {
            do throws(NetworkError) { rules = try TaskRulesChannel() } catch { throw RuntimeError(error) }
        }
        let launch = try buildPlan(bundle, id: id, envelope: envelope, seccomp: seccomp, console: console, options: options, waitForStart: waitForStart)
        trace("built the launch plan (\(launch.plan.operations.count) operations)", since: clock)

        let directory = try store.claim(id)
        var record = Self.plannedRecord(bundle, id: id, envelope: envelope)
        do throws(RuntimeError) {
            // The record names the cgroup and the lease before they exist: delete --force after
            // a crash at any later instant finds and removes them.
            try directory.write(record)
            do { try envelope.driver.create(envelope.cgroup, plan: envelope.resources) } catch { throw .cgroup(error) }
            envelope.cgroupMade = true
            trace("created cgroup \(envelope.cgroup.relativePath) (\(type(of: envelope.driver).name))", since: clock)
            // Every descriptor the plan names, opened now that the id is ours; closed when
            // `descriptors` goes, on every path out of here.
            let descriptors = try LaunchDescriptors(
                launch.plan.descriptors,
                supplied: .init(
                    seccompFilter: seccomp?.descriptor.rawValue, console: console.child?.rawValue,
                    rules: rules?.descriptors, execFifoPath: directory.fifoPath))
            let sync = CreateSync(
                record: record, hooks: bundle.spec.hooks, network: envelope.network,
                networkLeases: envelope.networkLeases, rules: rules, owner: directory.path, netDevices: bundle.spec.linux?.netDevices ?? [:])
            let process = try launchExplained(
                launch, descriptors: descriptors.table, envelope: envelope, spec: bundle.spec,
                userMaps: launch.newUserNamespace ? Self.userMaps(bundle.spec) : nil, sync: sync.handle)
            rules?.close()
            trace("container process \(process.pid) ready", since: clock)
            try pidfdSocket?.send(process)
            record = try recordLaunched(
                process, record: record, status: waitForStart ? .created : .running,
                seccomp: seccomp, directory: directory, pidFile: options.pidFile)
            return Created(directory: directory, record: record, process: process, relaySocket: console.relay)
        } catch {
            rules?.close()  // the bridge's lock, which the undo takes
            undoCreate(envelope, directory: directory)
            throw error
        }
    }

    // MARK: 1. the bundle

    struct LoadedBundle {
        var path: String
        var spec: Spec
        var rootfs: String
    }

    /// config.json, validated, with the root it names resolved. Nothing exists yet.
    func loadBundle(_ options: CreateOptions) throws(RuntimeError) -> LoadedBundle {
        let path = try absoluteDirectory(options.bundle, what: "bundle")
        let spec: Spec
        do { spec = try SpecLoader.load(bundle: path) } catch { throw .spec(error) }
        let rootPath = spec.root!.path
        let rootfs = try absoluteDirectory(rootPath.hasPrefix("/") ? rootPath : path + "/" + rootPath, what: "root.path")
        if rootfs == "/" {
            // A symlink to / (or "/" itself): the container would be the node, every file of it writable.
            throw .spec(SpecError("root.path", "\"\(rootPath)\" resolves to /, the node's own root: a container needs a root of its own"))
        }
        do { try SecurityModules.check(spec.process!, mountLabel: spec.linux?.mountLabel) } catch { throw .spec(error) }
        return LoadedBundle(path: path, spec: spec, rootfs: rootfs)
    }

    // MARK: 2. the envelope: cgroup and network

    /// The container's cgroup and network as planned: what the record names before they exist.
    struct Envelope {
        /// The driver of the container's cgroup (`NoCgroupDriver` when it has none of its own).
        var driver: any CgroupDriver
        var system: CgroupSystem
        var cgroup: ContainerCgroup
        var resources: ResourcePlan
        var cgroupMade = false
        var network: NetworkConfig?
        var networkLeases: String?

        /// What the record keeps of the cgroup: nothing when there is none.
        var recordedCgroup: ContainerCgroup? { driver is NoCgroupDriver ? nil : cgroup }
    }

    func planEnvelope(_ spec: Spec, id: ContainerID) throws(RuntimeError) -> Envelope {
        let network = try Self.network(of: spec)
        var networkLeases: String?
        if let network {
            // The node's own interfaces are checked before anything exists.
            do throws(NetworkError) {
                try TaskNetwork.check(network)
                networkLeases = try TaskNetwork.leaseDirectory()
            } catch { throw RuntimeError(error) }
        }
        let system = CgroupSystem.current()
        var driver = CgroupDrivers.driver(named: cgroupDriver, system: system)
        reportLayoutOnce(system)
        if !Rootless.isRootless, system.participating().isEmpty {
            // Under `ip netns exec` (a fresh /sys) no hierarchy is visible: the task would run
            // unlimited and delete could not find it. runc refuses too.
            throw .usage(
                "no cgroup hierarchy is mounted in this mount namespace (is /sys/fs/cgroup mounted?): refusing to run a container no limit or delete could reach")
        }
        var cgroup: ContainerCgroup
        do { cgroup = try driver.plan(cgroupsPath: spec.linux?.cgroupsPath, id: id.value) } catch { throw .spec(error) }
        if Rootless.isRootless, driver is CgroupfsDriver, !cgroup.canBeCreated {
            // Rootless without delegated cgroups: run, but say that nothing limits the task.
            note("rootless: uid \(Rootless.nodeUID) cannot create cgroups here (nothing is delegated to it); the container runs without cgroup limits")
            driver = NoCgroupDriver()
            do { cgroup = try driver.plan(cgroupsPath: nil, id: id.value) } catch { throw .spec(error) }
        }
        var resources: ResourcePlan
        do { resources = try driver.plan(spec.linux?.resources ?? Spec.Resources()) } catch { throw .spec(error) }
        if driver is NoCgroupDriver, spec.linux?.resources.map({ $0 != Spec.Resources() && $0 != Spec.Resources(devices: $0.devices) }) == true {
            warn("linux.resources: not applied (no cgroup)")
        }
        if cgroup.directories.contains(where: \.existed), case let occupants = driver.processes(cgroup), !occupants.isEmpty {
            // runc's reading: a warning, and the container joins. But the cgroup is not the
            // container's: limits would bind the processes already there, and delete must
            // leave them alone.
            if let write = resources.writes.first {
                throw .spec(
                    SpecError(
                        write.field,
                        "the cgroup \(cgroup.relativePath) already holds \(occupants.count) process(es) that are not this container's: a limit written there would bind them too"
                    ))
            }
            warn(
                "linux.cgroupsPath: the cgroup \(cgroup.relativePath) already holds \(occupants.count) process(es); the container joins it, and skiff will not kill or remove them"
            )
            cgroup.shared = true
        }
        driver.planAncestors(&cgroup, for: resources)
        resources.devices?.allowStandardDevices(plus: spec.linux?.devices ?? [])
        resources.warnings.forEach(warn)
        return Envelope(driver: driver, system: system, cgroup: cgroup, resources: resources, network: network, networkLeases: networkLeases)
    }

    /// The record claim time writes: everything the container will have (its cgroup, its
    /// lease), named before any of it exists.
    static func plannedRecord(_ bundle: LoadedBundle, id: ContainerID, envelope: Envelope) -> ContainerRecord {
        var record = ContainerRecord(
            ociVersion: bundle.spec.ociVersion, id: id.value, status: .creating, pid: 0, bundle: bundle.path, rootfs: bundle.rootfs,
            created: timestamp(), ownerUID: geteuid(), annotations: bundle.spec.annotations, cgroup: envelope.recordedCgroup,
            poststart: bundle.spec.hooks?.poststart, poststop: bundle.spec.hooks?.poststop)
        record.networkBridge = envelope.network?.bridge
        record.networkLeases = envelope.networkLeases
        return record
    }

    // MARK: 4. the launch plan

    /// The plan for `bundle`: the host's facts gathered, then every decision made by
    /// `PlanBuilder`, which reads nothing itself.
    func buildPlan(
        _ bundle: LoadedBundle, id: ContainerID, envelope: Envelope, seccomp: SeccompProgram?, console: Console,
        options: CreateOptions, waitForStart: Bool
    ) throws(RuntimeError) -> PlanBuilder.Output {
        var choices = PlanBuilder.Options()
        choices.containerID = id.value
        choices.noPivot = options.noPivot
        choices.noNewKeyring = options.noNewKeyring
        choices.preserveFds = options.preserveFds
        choices.seccompFlags = seccomp?.filter.flags
        choices.console = console.child != nil
        choices.network = envelope.network != nil
        choices.cgroup = envelope.cgroup
        choices.cgroupDriver = envelope.driver
        choices.waitForStart = waitForStart
        var builder = PlanBuilder(
            spec: bundle.spec, bundle: bundle.path, rootfs: bundle.rootfs, host: HostFacts.gather(for: bundle.spec, bundle: bundle.path),
            options: choices)
        let output = try builder.build()
        output.warnings.forEach(warn)
        return output
    }

    // MARK: 6. the launch

    /// `Launcher.launch`, with the cause said when skiff-init was killed before it was ready
    /// by the memory limit of its own cgroup (a limit below what a process needs to start).
    private func launchExplained(
        _ output: PlanBuilder.Output, descriptors: [Int32], envelope: Envelope, spec: Spec,
        userMaps: Launcher.UserMaps?, sync: @escaping Launcher.SyncHandler
    ) throws(RuntimeError) -> LaunchedProcess {
        do throws(RuntimeError) {
            return try Launcher.launch(
                output.plan, descriptors: descriptors, cloneFlags: output.cloneFlags, cgroup: envelope.cgroup, driver: envelope.driver,
                userMaps: userMaps, sync: sync)
        } catch {
            if case .initExited = error, envelope.driver.stats(envelope.cgroup).memory.oomKills > 0, let limit = spec.linux?.resources?.memory?.limit {
                throw .spec(SpecError("linux.resources.memory.limit", "\(limit) bytes is too little for the container to start: the kernel's OOM killer ended its setup"))
            }
            throw error
        }
    }

    // MARK: 7. the record

    /// The launched process in the record (pid, start time, pid namespace), its seccomp
    /// listener and pid file handed over; the record written.
    private func recordLaunched(
        _ process: LaunchedProcess, record: ContainerRecord, status: ContainerStatus, seccomp: SeccompProgram?,
        directory: ContainerDirectory, pidFile: String?
    ) throws(RuntimeError) -> ContainerRecord {
        var record = record
        record.pid = process.pid
        record.pidStartTime = ProcessStat(pid: process.pid)?.startTime
        if let namespace = readLink("/proc/\(process.pid)/ns/pid"), namespace != readLink("/proc/self/ns/pid") {
            record.pidNamespace = namespace
        }
        record.status = status
        let written = record
        try handOver(process, seccomp: seccomp, state: Self.ociState(record, status: .creating), pidFile: pidFile) { () throws(RuntimeError) in
            try directory.write(written)
        }
        return record
    }

    /// What create and exec both do once skiff-init is ready: the seccomp notify listener to
    /// its `listenerPath`, `beforePidFile`, and the pid file; the process is killed if any of
    /// it fails (nothing may run that its caller was told failed).
    func handOver(
        _ process: LaunchedProcess, seccomp: SeccompProgram?, state: JSONValue, pidFile: String?,
        beforePidFile: () throws(RuntimeError) -> Void = {}
    ) throws(RuntimeError) {
        do throws(RuntimeError) {
            if let listener = process.takeListener(), let filter = seccomp?.filter {
                try SeccompListener.send(listener.rawValue, to: filter.listenerPath ?? "", metadata: filter.listenerMetadata, state: state)
            }
            try beforePidFile()
            // The bare number, no newline: containerd cannot parse "123\n".
            if let pidFile { try writeAtomically(String(process.pid), to: pidFile) }
        } catch {
            Glibc.kill(process.pid, SIGKILL)
            throw error
        }
    }

    // MARK: 8. undo

    /// Removes what a failed create (or restore) made: only what skiff made (the init, if any, was killed by
    /// the launcher), the network's lease and rules, and the state directory.
    func undoCreate(_ envelope: Envelope, directory: ContainerDirectory) {
        if envelope.cgroupMade { try? envelope.driver.destroy(envelope.cgroup, belongs: { _ in false }) }
        if let network = envelope.network, let leases = envelope.networkLeases {
            do throws(NetworkError) {
                try TaskNetwork.tearDown(bridge: network.bridge, owner: directory.path, leases: leases).finish()
            } catch { warn(error.description) }
        }
        try? directory.remove()
    }
}

/// What the parent does at each SYNC point of create's plan (see `PlanBuilder`'s tags): the
/// task's network, the runtime hooks, and the state for the container hooks.
struct CreateSync: Sendable {
    var record: ContainerRecord
    var hooks: Spec.Hooks?
    var network: NetworkConfig?
    var networkLeases: String?
    /// How the task's rules reach the kernel: sent by the task (`TaskRulesChannel`).
    var rules: TaskRulesChannel?
    /// The container's state directory: the owner of its network lease.
    var owner: String
    /// The node's interfaces `linux.netDevices` moves in.
    var netDevices: [String: Spec.NetDevice] = [:]

    func handle(tag: Int, pid: Int32) throws(RuntimeError) -> [UInt8] {
        var current = record
        current.pid = pid
        switch tag {
        case PlanBuilder.syncNetworkRules:
            guard let network, let networkLeases, let rules else { return [] }
            do throws(NetworkError) { try rules.stage(network, owner: owner, leases: networkLeases) } catch { throw RuntimeError(error) }
            return []
        case PlanBuilder.syncNetwork:
            guard let network, let rules else { return [] }
            do throws(NetworkError) { try rules.connect(network, namespacePath: "/proc/\(pid)/ns/net") } catch { throw RuntimeError(error) }
            return []
        case PlanBuilder.syncNetDevices:
            do throws(NetworkError) {
                try NetDeviceMove.move(netDevices, intoNamespaceAt: "/proc/\(pid)/ns/net")
            } catch { throw RuntimeError(error) }
            return []
        case PlanBuilder.syncRuntimeHooks:
            // The runtime environment exists (lifecycle step 2 is done): the hooks of steps 3
            // to 5 see it created, as crun and runtime-tools' validation have it.
            let state = Runtime.ociState(current, status: .created)
            do throws(HookRunner.Failure) {
                try HookRunner.run(hooks?.prestart ?? [], kind: "prestart", state: state)
                try HookRunner.run(hooks?.createRuntime ?? [], kind: "createRuntime", state: state)
            } catch { throw .hook(error.description) }
            return []
        case PlanBuilder.syncCreateContainerState: return Runtime.ociState(current, status: .created).serializedBytes()
        case PlanBuilder.syncStartContainerState: return Runtime.ociState(current, status: .created).serializedBytes()
        default: return []
        }
    }
}

/// The compiled seccomp filter of a process: checked, compiled (or found in the cache under
/// the state root) and open for skiff-init. Create and exec both load the container's.
final class SeccompProgram {
    let filter: SeccompFilter
    let descriptor: SharedDescriptor

    private init(filter: SeccompFilter, descriptor: SharedDescriptor) {
        self.filter = filter
        self.descriptor = descriptor
    }

    /// A profile the config gets wrong is a config error naming its field; a filter that
    /// cannot be stored (memfd, the cache) is the host's failure, said as such.
    static func prepare(_ section: Spec.Seccomp?, root: String, warn: (String) -> Void) throws(RuntimeError) -> SeccompProgram? {
        guard let section else { return nil }
        let filter: SeccompFilter
        let descriptor: FileDescriptor
        do throws(SeccompError) {
            do { filter = try SeccompCompiler.check(section) } catch { throw .config(error) }
            descriptor = try SeccompCache(root: root).open(section)
        } catch {
            switch error {
            case .config(let specError): throw .spec(specError)
            case .system(let failure): throw .system(failure)
            }
        }
        filter.warnings.forEach(warn)
        return SeccompProgram(filter: filter, descriptor: SharedDescriptor(descriptor))
    }
}
