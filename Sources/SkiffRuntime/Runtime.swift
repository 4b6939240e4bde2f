// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffCgroups
import SkiffNetwork
import SkiffSeccomp
import SkiffSpec
import SkiffSystem

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
    /// An AF_UNIX socket to send the container process's pidfd to (`PidfdSocket`).
    public var pidfdSocket: String?

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
    /// The cgroup driver new containers get (`CgroupfsDriver.name`, or `SystemdDriver.name`
    /// for `--systemd-cgroup`); each container keeps the one it was made with.
    public var cgroupDriver = CgroupfsDriver.name

    public init(
        root: String = StateStore.defaultRoot, warn: @escaping @Sendable (String) -> Void = { _ in },
        debug: (@Sendable (String) -> Void)? = nil
    ) {
        self.store = StateStore(root: root)
        self.warn = warn
        self.debug = debug
    }

    /// Logs `step` with the milliseconds since `clock` started (for --debug).
    func trace(_ step: @autoclosure () -> String, since clock: Stopwatch) {
        guard let debug else { return }
        debug("\(step()) (+\((clock.milliseconds * 1000).rounded() / 1000) ms)")
    }

    // MARK: create

    public func create(id: String, options: CreateOptions) throws(RuntimeError) {
        _ = try prepareAndLaunch(id: try ContainerID(id), options: options, waitForStart: true)
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
            throw .spec(
                SpecError(
                    "annotations[\"\(NetworkConfig.prefix)*\"]",
                    "a task's own network needs a new network namespace (linux.namespaces has no \"network\" entry)"))
        }
        return namespace.path == nil ? config : nil
    }

    /// Says once (per state root, and so per boot for /run) which cgroup hierarchy carries
    /// which controllers; again whenever that changes.
    func reportLayoutOnce(_ system: CgroupSystem) {
        let marker = store.root + "/.cgroup-layout"
        let layout = system.layout
        if let seen = try? readFile(marker), String(decoding: seen, as: UTF8.self) == layout { return }
        note("cgroup layout: \(layout)")
        mkdir(store.root, 0o711)
        // Written in place, not through a temporary file a killed create could leave
        // behind: a torn marker only means the note is said once more.
        try? writeFile(Array(layout.utf8), to: marker)
    }

    /// The console socket skiff-init sends the pty master on (`child`): the one at
    /// `--console-socket`, or one end of a socketpair whose other end (`relay`) skiff keeps to
    /// relay the terminal itself.
    struct Console {
        var child: SharedDescriptor?
        var relay: SharedDescriptor?
    }

    static func console(terminal: Bool, socketPath: String?, relay: Bool) throws(RuntimeError) -> Console {
        guard terminal else {
            if socketPath != nil { throw .usage("--console-socket: only for a process with a terminal (process.terminal: true)") }
            return Console()
        }
        if let socketPath { return Console(child: SharedDescriptor(try UnixSocket.connect(socketPath, field: "--console-socket"))) }
        guard relay else { throw .usage("process.terminal: a terminal needs --console-socket (or a foreground run)") }
        let pair = try systemStep { () throws(SystemError) in try SocketPair(Int32(SOCK_STREAM.rawValue), step: "creating the console socket") }
        return Console(child: SharedDescriptor(pair.theirs), relay: SharedDescriptor(pair.ours))
    }

    func absoluteDirectory(_ path: String, what: String) throws(RuntimeError) -> String {
        guard let resolved = realpath(path, nil) else {
            let failure = SystemError(path, errno: errno)
            throw what == "bundle" ? .usage("bundle \(failure)") : .spec(SpecError(what, failure.description))
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
        Launcher.UserMaps(uid: (spec.linux?.uidMappings ?? []).mapFileText, gid: (spec.linux?.gidMappings ?? []).mapFileText)
    }

    /// The OCI state of `record` as the runtime spec shapes it (for listeners and hooks).
    static func ociState(_ record: ContainerRecord, status: ContainerStatus) -> JSONValue {
        .object([
            ("ociVersion", .string(record.ociVersion)), ("id", .string(record.id)), ("status", .string(status.rawValue)),
            ("pid", .number(String(record.pid))), ("bundle", .string(record.bundle)),
            ("annotations", .object((record.annotations ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ])
    }

    /// Now, as a record's `created` (RFC 3339, microseconds, as runc writes it).
    static func timestamp() -> String { SystemClock.rfc3339(fractionDigits: 6) }

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
        do throws(SystemError) {
            let fifo = try FileDescriptor(opening: directory.fifoPath, O_WRONLY | O_NONBLOCK, step: "opening \(directory.fifoPath)")
            try fifo.write([0], step: "releasing the container process")
        } catch {
            // ENXIO: nobody holds the read end, the init is gone.
            throw error.errno == ENXIO ? .wrongState(id: id.value, status: .stopped, action: "start") : .system(error)
        }
        // The process runs from here on: a scheduler told "start failed" would think it is not
        // running. What is left is bookkeeping (the status is also read from the fifo's
        // absence), so its failures are warnings.
        unlink(directory.fifoPath)
        record.status = .running
        do { try directory.write(record) } catch { warn("start: container \"\(id.value)\" is running, but its state could not be recorded: \(error)") }
        try runPoststart(record)
    }

    /// poststart hooks, once the container's process has been executed (runtime-spec 1.3,
    /// lifecycle step 9): a failure is an error that stops the container — its process is
    /// killed, the hooks after the failing one do not run, and the record stays for `delete`.
    func runPoststart(_ record: ContainerRecord) throws(RuntimeError) {
        guard let hooks = record.poststart, !hooks.isEmpty else { return }
        ExecWatch.waitUntilExecuted(pid: record.pid, startTime: record.pidStartTime)
        do throws(HookRunner.Failure) { try HookRunner.run(hooks, kind: "poststart", state: Self.ociState(record, status: .running)) } catch {
            try? Self.signal(pid: record.pid, startTime: record.pidStartTime, SIGKILL)
            throw .hook(error.description + " (the container is stopped)")
        }
    }

    // MARK: state

    public func state(id: String) throws(RuntimeError) -> ContainerState {
        let id = try ContainerID(id)
        guard let record = try store.read(id) else {
            return ContainerState(
                ociVersion: Spec.version, id: id.value, pid: 0, status: .creating, bundle: "", rootfs: "",
                created: "", owner: "", annotations: nil)
        }
        let status = self.status(of: record, directory: nil)
        return ContainerState(
            ociVersion: record.ociVersion, id: record.id, pid: status == .stopped ? 0 : record.pid,
            status: status, bundle: record.bundle, rootfs: record.rootfs, created: record.created,
            owner: Self.userName(record.ownerUID), annotations: record.annotations)
    }

    /// The live status: what the record says, checked against the process.
    func status(of record: ContainerRecord, directory: ContainerDirectory?) -> ContainerStatus {
        switch record.status {
        case .creating:
            // Still being created only if its creator still holds the lock.
            if directory != nil { return .stopped }
            guard let opened = try? FileDescriptor(opening: store.path(of: try! ContainerID(record.id)), O_RDONLY | O_DIRECTORY, step: "")
            else { return .stopped }
            return FileLock.isHeld(opened, against: .shared) ? .creating : .stopped
        case .stopped:
            return .stopped
        default:
            guard ProcessStat.isRunning(pid: record.pid, startTime: record.pidStartTime) else { return .stopped }
            // Frozen first: a created container can be paused too (runc allows it), and must
            // then read as paused so that `resume` finds it, and `start` refuses it.
            let (driver, cgroup) = Self.cgroup(of: record)
            if driver.isFrozen(cgroup) { return .paused }
            if record.status == .created, access(store.path(of: try! ContainerID(record.id)) + "/exec.fifo", F_OK) == 0 {
                return .created
            }
            return .running
        }
    }

    /// Every container of this root; one whose record cannot be read is listed as
    /// `unreadable` (so that it can be found and deleted), not left out.
    public func list() -> [ContainerState] {
        store.list().compactMap { id in
            do throws(RuntimeError) { return try state(id: id.value) } catch {
                guard case .unreadableState = error else { return nil }
                return ContainerState(
                    ociVersion: "", id: id.value, pid: 0, status: .unreadable, bundle: "", rootfs: "",
                    created: "", owner: "", annotations: nil)
            }
        }
    }

    // MARK: kill

    public func kill(id: String, signal: Int32, all: Bool = false) throws(RuntimeError) {
        let id = try ContainerID(id)
        guard let record = try store.read(id) else { throw .wrongState(id: id.value, status: .creating, action: "signal") }
        let status = self.status(of: record, directory: nil)
        // `kill --all` of a stopped container signals what is left in its cgroup (runc does
        // the same): containerd deletes every exited task that way, and processes that joined
        // the container's pid namespace may outlive its init.
        let (driver, cgroup) = Self.cgroup(of: record)
        let hasCgroup = !(driver is NoCgroupDriver)
        guard status == .created || status == .running || status == .paused || (all && hasCgroup) else {
            throw .wrongState(id: id.value, status: status, action: "signal")
        }
        if all, hasCgroup {
            driver.signal(cgroup, signal, belongs: Self.belongs(to: record))
        } else {
            try Self.signal(pid: record.pid, startTime: record.pidStartTime, signal)
        }
        // A frozen process acts on a SIGKILL only once thawed (cgroup v1's freezer): a paused
        // container is thawed for it, as runc does, so that `kill KILL` ends it.
        if signal == SIGKILL, status == .paused, !cgroup.shared {
            do { try driver.thaw(cgroup) } catch { throw .cgroup(error) }
        }
    }

    /// The record's cgroup with the driver that made it (the `none` driver's empty cgroup for a
    /// container without one).
    static func cgroup(of record: ContainerRecord) -> (driver: any CgroupDriver, cgroup: ContainerCgroup) {
        (CgroupDrivers.driver(for: record.cgroup), record.cgroup ?? ContainerCgroup(relativePath: "", directories: []))
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
        let opened = skiff_pidfd_open(pid)
        guard opened >= 0 else {
            if errno == ESRCH { return }
            if Glibc.kill(pid, signal) != 0 { throw .system("signalling \(pid)", errno) }
            return
        }
        let pidfd = FileDescriptor(adopting: opened)
        guard ProcessStat.isRunning(pid: pid, startTime: startTime) else { return }
        if skiff_pidfd_send_signal(pidfd.rawValue, signal) != 0, errno != ESRCH { throw .system("signalling \(pid)", errno) }
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
    /// id alone goes: what any cgroup driver made at its default place for the id (cgroupfs's
    /// `skiff-<id>` under skiff's own, systemd's `skiff-<id>.scope`: names only skiff gives),
    /// with every process in it; every lease the container's state directory holds on any
    /// node, with its rules and veth; then the directory.
    private func destroyUnreadable(_ id: ContainerID, directory: ContainerDirectory) throws(RuntimeError) {
        for driver in CgroupDrivers.all(system: CgroupSystem.current()) {
            guard let cgroup = driver.leftover(ofDefault: id.value) else { continue }
            do { try driver.destroy(cgroup, belongs: { _ in true }) } catch { throw .cgroup(error) }
        }
        for (leases, bridge) in TaskNetwork.leases(of: directory.path) {
            let release = try releaseNetwork(bridge: bridge, leases: leases, owner: directory.path)
            do throws(NetworkError) { try release.finish() } catch { warn(error.description) }
        }
        try directory.remove()
    }

    private func destroy(_ record: ContainerRecord, directory: ContainerDirectory) throws(RuntimeError) {
        // The network first: its port is fenced and its rules go before the task is killed,
        // and its veth's deletion is under way meanwhile.
        let network = try removeNetwork(of: record)
        if record.pid > 0 { try? Self.signal(pid: record.pid, startTime: record.pidStartTime, SIGKILL) }
        let (driver, cgroup) = Self.cgroup(of: record)
        // A frozen init acts on SIGKILL only once the driver has thawed it: it is waited for
        // after the driver's destroy, every other one before (the record goes only after it).
        let frozen = record.pid > 0 && driver.isFrozen(cgroup)
        if record.pid > 0, !frozen { Self.awaitExit(pid: record.pid, startTime: record.pidStartTime) }
        do { try driver.destroy(cgroup, belongs: Self.belongs(to: record)) } catch { throw .cgroup(error) }
        if frozen { Self.awaitExit(pid: record.pid, startTime: record.pidStartTime) }
        if let network = consume network {
            // The rules and the lease are gone already; a veth that cannot be removed is fenced.
            do throws(NetworkError) { try network.finish() } catch { warn(error.description) }
        }
        try directory.remove()
        if let hooks = record.poststop, !hooks.isEmpty {
            HookRunner.runAll(hooks, kind: "poststop", state: Self.ociState(record, status: .stopped)).forEach { warn($0.description) }
        }
    }

    /// Waits, up to a second, for the container's init, just killed, to exit: its cgroups
    /// empty only then, and a poll on its pidfd wakes at that instant, where the driver's
    /// rmdir would fail (EBUSY) and retry every millisecond, reading every hierarchy's
    /// `cgroup.procs` each time — on a busy node, against every create's mkdirs.
    private static func awaitExit(pid: Int32, startTime: UInt64?) {
        let pidfd = skiff_pidfd_open(pid)
        guard pidfd >= 0 else { return }
        defer { close(pidfd) }
        // The pid may name another process by now: only the container's is waited for.
        guard ProcessStat.isRunning(pid: pid, startTime: startTime) else { return }
        var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        while poll(&entry, 1, 1000) < 0, errno == EINTR {}
    }

    /// The task's rules, lease and fenced port, removed in the node it was created from
    /// (which need not be this namespace: found by its name, or gone with everything in it).
    private func removeNetwork(of record: ContainerRecord) throws(RuntimeError) -> TaskNetwork.Release? {
        guard let bridge = record.networkBridge, let leases = record.networkLeases else { return nil }
        return try releaseNetwork(bridge: bridge, leases: leases, owner: store.path(of: try ContainerID(record.id)))
    }

    /// The rules, lease and fenced port `owner` holds on `bridge`, removed in the node whose
    /// leases are in `leases` (`TaskNetwork.release`).
    func releaseNetwork(bridge: String, leases: String, owner: String) throws(RuntimeError) -> TaskNetwork.Release {
        do throws(NetworkError) { return try TaskNetwork.release(bridge: bridge, owner: owner, leases: leases) } catch {
            throw RuntimeError(error)
        }
    }

    // MARK: run

    /// create + start + wait + delete. Signals sent to this process are forwarded to the
    /// container; the result is the container's exit status (128+N when killed by signal N).
    /// With `detach`, returns 0 once the process runs and leaves it running.
    public func run(id: String, options: CreateOptions, detach: Bool = false) throws(RuntimeError) -> Int32 {
        let id = try ContainerID(id)
        if detach {
            let created = try prepareAndLaunch(id: id, options: options, waitForStart: false)
            do throws(RuntimeError) { try runPoststart(created.record) } catch {
                // A container its poststart hooks stopped is removed, as run removes one it
                // started. Its process is this one's child here: reaped first, or its zombie
                // would keep it in its cgroup (v1), which delete then waits to empty.
                var status: Int32 = 0
                _ = waitpid(created.record.pid, &status, 0)
                created.directory.unlock()  // delete takes the container's lock itself
                try? delete(id: id.value, force: true)
                throw error
            }
            return 0
        }
        // Reap the container even when it is a grandchild (a joined pid namespace).
        skiff_become_subreaper()
        let forwarder = try SignalForwarder()
        defer { forwarder.restore() }
        let created = try prepareAndLaunch(id: id, options: options, waitForStart: false, relayTerminal: true)
        var poststartFailure: RuntimeError?
        let status = try waitInForeground(
            pid: created.record.pid, pidfd: created.process.pidfd?.rawValue ?? -1, relaySocket: created.relaySocket, forwarder: forwarder
        ) {
            // Let `kill`, `state` and `delete` in: the container's lifetime is not a lock's.
            created.directory.unlock()
            do throws(RuntimeError) { try runPoststart(created.record) } catch { poststartFailure = error }
        }
        let clock = Stopwatch()
        trace("container process exited with status \(status)", since: clock)
        try delete(id: id.value, force: true)
        trace("deleted", since: clock)
        if let poststartFailure { throw poststartFailure }
        return status
    }

    /// run's and exec's foreground: the terminal relayed (when skiff holds the console socket),
    /// signals forwarded, and the process's exit status returned (128+N for signal N).
    /// `whileRunning` runs once the relay is set up, before the wait.
    func waitInForeground(
        pid: Int32, pidfd: Int32, relaySocket: SharedDescriptor?, forwarder: SignalForwarder,
        whileRunning: () -> Void = {}
    ) throws(RuntimeError) -> Int32 {
        var relay: TerminalRelay?
        if let relaySocket { relay = TerminalRelay(master: try TerminalRelay.receiveMaster(from: relaySocket.rawValue)) }
        whileRunning()
        let status = forwarder.wait(for: pid, pidfd: pidfd, relay: relay)
        relay = nil  // the terminal is restored before anything else is said
        return status
    }
}
