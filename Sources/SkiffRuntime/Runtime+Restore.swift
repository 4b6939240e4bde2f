// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffCgroups
import SkiffNetwork
import SkiffSpec
import SkiffSystem

/// `restore`'s options beyond CRIU's: runc's `--bundle`, `--detach`, `--pid-file`,
/// `--console-socket`, `--no-pivot`.
public struct RestoreOptions: Sendable {
    public var create: CreateOptions
    public var checkpoint: CheckpointOptions
    public var detach = false

    public init(create: CreateOptions, checkpoint: CheckpointOptions) {
        self.create = create
        self.checkpoint = checkpoint
    }
}

extension Runtime {
    // MARK: restore

    /// Brings a checkpoint back as container `id`, from the bundle given (its config.json
    /// says the cgroup, its limits and the bind mounts' sources). As create does, the record
    /// is written before anything exists, the cgroup is made with its limits, and CRIU runs
    /// in it, so every restored process is born inside; a failure (or a kill) at any point
    /// leaves nothing. CRIU restores the rest: namespaces, mounts, credentials, seccomp.
    /// Returns the container's exit status when not detached (it is then deleted, as `run`).
    public func restore(id: String, options: RestoreOptions) throws(RuntimeError) -> Int32 {
        let id = try ContainerID(id)
        try options.checkpoint.validate()
        if options.checkpoint.manageCgroupsMode == "strict" {
            // CRIU's strict mode makes every cgroup itself and fails on one that exists.
            throw .usage(
                "--manage-cgroups-mode: strict restores only into cgroups that do not exist, but skiff makes the container's cgroup (with the bundle's limits) before CRIU runs, as runc does; use soft, full or ignore"
            )
        }
        try store.refuseExisting(id)
        let images = try absoluteDirectory(options.checkpoint.imagePath, what: "--image-path")
        guard access(images + "/inventory.img", F_OK) == 0 else { throw .usage("--image-path: \(images) holds no CRIU checkpoint (no inventory.img)") }
        let saved = try CheckpointRecord(reading: images)
        let bundle = try loadBundle(options.create)
        // A task with a terminal gets a new pty (its master to --console-socket, or relayed
        // by a foreground restore) on a devpts instance that becomes its /dev/pts again.
        let console = try Self.console(terminal: saved.terminal, socketPath: options.create.consoleSocket, relay: !options.detach)
        var devpts: Spec.Mount?
        if saved.terminal {
            devpts = bundle.spec.mounts?.first { $0.type == "devpts" }
            guard devpts != nil else { throw .usage("mounts: the checkpoint is of a container with a terminal, but the bundle mounts no devpts") }
        }
        guard let criu = CRIU.locate(options.checkpoint.criuPath) else { throw .criu("not installed (apt-get install criu), or --criu names no program") }
        var envelope = try planEnvelope(bundle.spec, id: id)
        // A task with skiff's network gets its address back, in a new namespace of the same
        // shape; the checkpoint and the bundle must agree on whether there is one.
        switch (envelope.network != nil, saved.address) {
        case (true, let address?):
            guard let address = IPv4Address(address) else { throw .usage("--image-path: the checkpoint's address \"\(address)\" is not an IPv4 address") }
            envelope.network?.address = address
        case (true, nil):
            throw .usage("--image-path: the checkpoint is of a container without skiff's task network, but the bundle asks for one (\(NetworkConfig.prefix)*)")
        case (false, _?):
            throw .usage("--image-path: the checkpoint is of a container with skiff's task network, but the bundle has none (\(NetworkConfig.prefix)*)")
        case (false, nil): break
        }
        var checkpoint = options.checkpoint
        if let work = checkpoint.workPath { checkpoint.workPath = try absoluteDirectory(work, creating: true, what: "--work-path") }
        let log = (checkpoint.workPath ?? images) + "/restore.log"
        // The namespaces the container joined by path, handed to CRIU (opened before the
        // state directory is claimed: a bad path is bad input, and nothing exists yet).
        var handed: [(key: String, descriptor: SharedDescriptor)] = []
        for namespace in bundle.spec.linux?.namespaces ?? [] where namespace.path?.isEmpty == false {
            guard namespace.type == "network" || namespace.type == "pid" else {
                throw .usage("linux.namespaces: a restored container can join only network and pid namespaces by path, not \(namespace.type)")
            }
            let opened = try systemStep { () throws(SystemError) in
                try FileDescriptor(opening: namespace.path!, O_RDONLY, step: "linux.namespaces: opening \(namespace.path!)")
            }
            handed.append((Self.externalNamespaceKey(namespace.type), SharedDescriptor(opened)))
        }
        var rules: TaskRulesChannel?
        if envelope.network != nil {
            do throws(NetworkError) { rules = try TaskRulesChannel() } catch { throw RuntimeError(error) }
            let namespace = try systemStep { () throws(SystemError) in
                try FileDescriptor(checking: skiff_new_netns(), step: "making the task's network namespace")
            }
            handed.append((Self.taskNetworkKey, SharedDescriptor(namespace)))
        }

        let directory = try store.claim(id)
        var record = Self.plannedRecord(bundle, id: id, envelope: envelope)
        let rootMount = directory.path + "/criu-root"
        let devptsMount = directory.path + "/criu-devpts"
        do throws(RuntimeError) {
            // The record names the cgroup and the lease before they exist, as create's does.
            try directory.write(record)
            do { try envelope.driver.create(envelope.cgroup, plan: envelope.resources) } catch { throw .cgroup(error) }
            envelope.cgroupMade = true
            var taskRules: CRIU.TaskRules?
            if let network = envelope.network, let leases = envelope.networkLeases, let rules, let namespace = handed.last?.descriptor {
                do throws(NetworkError) { try rules.stage(network, owner: directory.path, leases: leases) } catch { throw RuntimeError(error) }
                taskRules = CRIU.TaskRules(socket: rules.descriptors.socket, batch: rules.descriptors.batch) { () throws(RuntimeError) in
                    do throws(NetworkError) { try rules.connect(network, namespacePath: "/proc/self/fd/\(namespace.rawValue)") } catch {
                        throw RuntimeError(error)
                    }
                }
            }
            try Self.makeMountpoints(of: bundle)
            // CRIU's --root must be a mount point: the bundle's root is bound there, in CRIU's
            // own mount namespace (skiff_spawn_criu).
            try systemStep { () throws(SystemError) in try checked(mkdir(rootMount, 0o700), "creating \(rootMount)") }
            var terminal: CRIU.RestoredTerminal?
            // One descriptor per terminal CRIU inherits (the checkpoint's external ttys): the
            // new pty's peer, put on placeholders' numbers by CRIU's held child; or, for a
            // task started on a shell's terminal, copies of this skiff's own (fd 0 itself
            // stays where CRIU's --shell-job looks for one).
            var terminals: [(key: String, descriptor: SharedDescriptor)] = []
            if let devpts, let socket = console.child {
                try systemStep { () throws(SystemError) in try checked(mkdir(devptsMount, 0o700), "creating \(devptsMount)") }
                for key in saved.terminals {
                    let placeholder = try systemStep { () throws(SystemError) in
                        try FileDescriptor(opening: "/dev/null", O_RDONLY | O_CLOEXEC, step: "reserving a descriptor for the restored terminal")
                    }
                    terminals.append((key, SharedDescriptor(placeholder)))
                }
                let mountOptions = MountOptions(devpts.options ?? [])
                terminal = CRIU.RestoredTerminal(
                    directory: devptsMount, flags: UInt(truncatingIfNeeded: mountOptions.flags & ~(MountFlag.bind | MountFlag.recursive)),
                    data: mountOptions.data.joined(separator: ","), consoleSocket: socket.rawValue, descriptors: terminals.map { $0.descriptor.rawValue })
            } else {
                let first = saved.descriptors.firstIndex { $0.hasPrefix("tty[") } ?? 0
                for key in saved.terminals {
                    let number = Int32(saved.descriptors.firstIndex(of: key) ?? first)
                    let copy = try systemStep { () throws(SystemError) in
                        try FileDescriptor(checking: fcntl(number, F_DUPFD_CLOEXEC, 3), step: "copying descriptor \(number), the task's terminal")
                    }
                    terminals.append((key, SharedDescriptor(copy)))
                }
            }
            let pidFile = directory.path + "/restored.pid"
            var arguments = ["restore", "--images-dir", images, "-v4", "--log-file", "restore.log", "--root", rootMount]
            arguments += ["--restore-detached", "--restore-sibling", "--pidfile", pidFile, "--evasive-devices"]
            arguments += checkpoint.sharedArguments
            if checkpoint.emptyNamespaces.contains("network") { arguments += ["--empty-ns", "net"] }
            if terminal != nil {
                // The new pty's devpts instance is mounted where the checkpoint's external
                // /dev/pts was, its peer where /dev/console was.
                arguments += ["--external", "mnt[\(ExternalMounts.devptsKey)]:\(devptsMount)"]
                arguments += ["--external", "mnt[\(ExternalMounts.consoleKey)]:\(devptsMount)/0"]
            }
            for bind in ExternalMounts.binds(of: bundle.spec) {
                arguments += ["--external", "mnt[\(bind.destination)]:\(bind.source.hasPrefix("/") ? bind.source : bundle.path + "/" + bind.source)"]
            }
            arguments += ["--external", "mnt[\(ExternalMounts.devnullKey)]:/dev/null"]
            // The task's pipes, and files from outside it, become the restoring skiff's own
            // standard descriptors (runc's rule: a supervisor restores with the pipes it reads).
            var inherited: Set<String> = []
            for (number, target) in saved.descriptors.enumerated() where target.hasPrefix("pipe:") || target.hasPrefix("file[") {
                if inherited.insert(target).inserted { arguments += ["--inherit-fd", "fd[\(number)]:\(target)"] }
            }
            for (key, descriptor) in handed + terminals { arguments += ["--inherit-fd", "fd[\(descriptor.rawValue)]:\(key)"] }
            // What CRIU restores goes into the container's new cgroup, where CRIU itself runs.
            for root in Self.cgroupRoots(of: envelope.cgroup) { arguments += ["--cgroup-root", root] }
            skiff_become_subreaper()
            try criu.run(
                arguments, log: log, root: (bundle.rootfs, rootMount), inheriting: (handed + terminals).map { $0.descriptor.rawValue },
                rules: taskRules,
                terminal: terminal
            ) { (pid) throws(RuntimeError) in
                do throws(CgroupError) { try envelope.driver.attach(envelope.cgroup, pid: pid, bornInside: false, joinedItself: false) } catch { throw .cgroup(error) }
            }
            rules?.close()
            rmdir(rootMount)
            rmdir(devptsMount)
            let pidText = try systemStep { () throws(SystemError) in try readFile(pidFile) }
            unlink(pidFile)
            guard let pid = Int32(String(decoding: pidText, as: UTF8.self).trimmingWhitespace), pid > 0 else {
                throw .criu("restored, but its pid file \(pidFile) names no process")
            }
            record.pid = pid
            record.pidStartTime = ProcessStat(pid: pid)?.startTime
            if let namespace = readLink("/proc/\(pid)/ns/pid"), namespace != readLink("/proc/self/ns/pid") { record.pidNamespace = namespace }
            record.status = .running
            try directory.write(record)
            if let pidFile = options.create.pidFile { try writeAtomically(String(pid), to: pidFile) }
        } catch {
            rules?.close()  // the bridge's lock, which the undo takes
            rmdir(rootMount)
            rmdir(devptsMount)
            undoCreate(envelope, directory: directory)
            throw error
        }
        if options.detach { return 0 }
        let forwarder = try SignalForwarder()
        defer { forwarder.restore() }
        directory.unlock()
        let status = try waitInForeground(pid: record.pid, pidfd: -1, relaySocket: console.relay, forwarder: forwarder)
        try delete(id: id.value, force: true)
        return status
    }

    /// The mount points of the bundle's mounts, made in its root where missing (as create
    /// made them), except under a tmpfs of the bundle's (CRIU restores a tmpfs whole) and for
    /// cgroup mounts (sysfs shows their mount point). A bind of a file gets a file.
    static func makeMountpoints(of bundle: LoadedBundle) throws(RuntimeError) {
        let mounts = bundle.spec.mounts ?? []
        let tmpfs = mounts.filter { $0.type == "tmpfs" }.map { $0.destination.hasSuffix("/") ? $0.destination : $0.destination + "/" }
        var paths: [String] = []
        var files: [Int32] = []
        for mount in mounts where mount.type != "cgroup" && mount.type != "cgroup2" && mount.destination.hasPrefix("/") {
            guard !tmpfs.contains(where: { mount.destination.hasPrefix($0) }) else { continue }
            let isBind = mount.isBind
            var status = stat()
            let source = mount.source.map { $0.hasPrefix("/") ? $0 : bundle.path + "/" + $0 } ?? ""
            let isFile = isBind && stat(source, &status) == 0 && status.st_mode & S_IFMT != S_IFDIR
            paths.append(mount.destination)
            files.append(isFile ? 1 : 0)
        }
        guard !paths.isEmpty else { return }
        let pointers = paths.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        let result = pointers.withUnsafeBufferPointer { paths in
            files.withUnsafeBufferPointer { skiff_make_mountpoints(bundle.rootfs, paths.baseAddress, $0.baseAddress, Int32(paths.count)) }
        }
        if result != 0 { throw .system("making the mount points of the bundle's mounts in \(bundle.rootfs)", errno) }
    }

    /// The container's cgroup per hierarchy, as CRIU's `--cgroup-root` takes it: `/path`
    /// for cgroup v2 (every controller), `controller,…:/path` for a v1 hierarchy.
    static func cgroupRoots(of cgroup: ContainerCgroup) -> [String] {
        cgroup.directories.compactMap { directory in
            guard let root = directory.hierarchyRoot, directory.path.hasPrefix(root) else { return nil }
            let relative = String(directory.path.dropFirst(root.count))
            let path = relative.hasPrefix("/") ? relative : "/" + relative
            return directory.version == .v2 ? path : directory.controllers.joined(separator: ",") + ":" + path
        }
    }
}
