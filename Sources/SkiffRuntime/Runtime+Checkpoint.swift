// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffNetwork
import SkiffSpec
import SkiffSystem

/// runc's CRIU options, as podman and containerd's runc shim pass them to `checkpoint` and
/// `restore`.
public struct CheckpointOptions: Sendable {
    /// Where CRIU's images go (checkpoint) or come from (restore).
    public var imagePath: String
    /// CRIU's work directory and logs (the image directory when nil).
    public var workPath: String?
    /// A pre-dump's images, relative to `imagePath` (runc's rule), for an incremental dump.
    public var parentPath: String?
    public var leaveRunning = false
    public var tcpEstablished = false
    public var tcpSkipInFlight = false
    public var linkRemap = false
    public var externalUnixSockets = false
    public var shellJob = false
    public var fileLocks = false
    public var preDump = false
    public var autoDedup = false
    public var lazyPages = false
    /// `ADDRESS:PORT` of a page server: where a dump sends its memory pages, or, with
    /// `lazyPages`, where it serves them to a restore's `criu lazy-pages` daemon.
    public var pageServer: String?
    /// A descriptor CRIU writes one zero byte to once a lazy dump serves its pages (runc's
    /// `--status-fd`).
    public var statusDescriptor: Int32?
    /// soft, full, strict or ignore (CRIU's `--manage-cgroups`; runc's default soft).
    public var manageCgroupsMode = "soft"
    /// Namespaces CRIU creates empty on restore instead of restoring ("network" only, as runc).
    public var emptyNamespaces: [String] = []
    /// `--criu PATH`.
    public var criuPath: String?

    public init(imagePath: String) { self.imagePath = imagePath }

    static let cgroupModes = ["soft", "full", "strict", "ignore"]

    /// CRIU's flags for what these options say, common to dump and restore.
    var sharedArguments: [String] {
        var arguments = ["--manage-cgroups=\(manageCgroupsMode)"]
        if tcpEstablished { arguments.append("--tcp-established") }
        if externalUnixSockets { arguments.append("--ext-unix-sk") }
        if shellJob { arguments.append("--shell-job") }
        if fileLocks { arguments.append("--file-locks") }
        if autoDedup { arguments.append("--auto-dedup") }
        if lazyPages { arguments.append("--lazy-pages") }
        if let workPath { arguments += ["--work-dir", workPath] }
        return arguments
    }

    /// Bad values, refused before anything is done.
    func validate() throws(RuntimeError) {
        guard Self.cgroupModes.contains(manageCgroupsMode) else {
            throw .usage("--manage-cgroups-mode: expected soft, full, strict or ignore, got \"\(manageCgroupsMode)\"")
        }
        for kind in emptyNamespaces where kind != "network" {
            throw .usage("--empty-ns: only \"network\" can be restored empty, got \"\(kind)\"")
        }
        if let pageServer {
            let parts = pageServer.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 2, !parts.dropLast().joined(separator: ":").isEmpty, let port = UInt16(parts.last!), port > 0 else {
                throw .usage("--page-server: expected ADDRESS:PORT, got \"\(pageServer)\"")
            }
        }
        if let statusDescriptor, fcntl(statusDescriptor, F_GETFL) < 0 || fcntl(statusDescriptor, F_GETFL) & O_ACCMODE == O_RDONLY {
            throw .usage("--status-fd: \(statusDescriptor) is not a descriptor open for writing")
        }
        if let parentPath, parentPath.hasPrefix("/") {
            throw .usage("--parent-path: must be relative to --image-path, got \"\(parentPath)\"")
        }
    }
}

/// What skiff keeps beside CRIU's images (`skiff-checkpoint.json`): what the restore must hand
/// CRIU that the images do not hold.
struct CheckpointRecord: Equatable {
    static let fileName = "skiff-checkpoint.json"
    /// What the task's descriptors 0, 1 and 2 were ("pipe:[123]", "/dev/null"): pipes are
    /// inherited from the restoring skiff's own (`--inherit-fd`), as runc does.
    var descriptors: [String]
    var terminal: Bool
    /// CRIU's external-tty keys of the terminals the restore hands back (`externalTerminals`).
    var terminals: [String] = []
    /// The address of a task with skiff's network: its restore leases it again (its sockets
    /// are bound to it), in a network namespace the restore makes and hands CRIU.
    var address: String?

    var json: JSONValue {
        var fields: [(String, JSONValue)] = [("descriptors", .array(descriptors.map(JSONValue.string))), ("terminal", .bool(terminal))]
        if !terminals.isEmpty { fields.append(("terminals", .array(terminals.map(JSONValue.string)))) }
        if let address { fields.append(("address", .string(address))) }
        return .object(fields)
    }

    init(descriptors: [String], terminal: Bool, terminals: [String] = [], address: String? = nil) {
        self.descriptors = descriptors
        self.terminal = terminal
        self.terminals = terminals
        self.address = address
    }

    init(reading directory: String) throws(RuntimeError) {
        let path = directory + "/" + Self.fileName
        let bytes: [UInt8]
        do { bytes = try readFile(path) } catch { throw .usage("--image-path: \(directory) holds no skiff checkpoint (\(Self.fileName): \(error.reason))") }
        guard case .object(let fields)? = try? JSONValue.parse(bytes) else { throw .usage("--image-path: \(path) is not JSON") }
        let values = Dictionary(fields, uniquingKeysWith: { first, _ in first })
        guard case .array(let list)? = values["descriptors"] else { throw .usage("--image-path: \(path) names no descriptors") }
        descriptors = list.compactMap { if case .string(let text) = $0 { text } else { nil } }
        terminal = values["terminal"] == .bool(true)
        if case .array(let list)? = values["terminals"] {
            terminals = list.compactMap { if case .string(let text) = $0, text.hasPrefix("tty[") { text } else { nil } }
        }
        if case .string(let text)? = values["address"] { address = text }
    }
}

/// The mounts CRIU must be told are external (their source is outside the container), by
/// the key the images name them by: a bind mount by its destination, a masked file by
/// `devnullKey` (the node's /dev/null, bound over it; one key for all, as runc). A task with
/// a terminal has its devpts (`devptsKey`) and /dev/console (`consoleKey`, the pty's peer
/// bound there) external too: its pty's master is outside, with the console socket's
/// receiver, so the restore brings a devpts instance of its own with a new pty in it.
enum ExternalMounts {
    static let devnullKey = "skiff-devnull"
    static let devptsKey = "skiff-devpts"
    static let consoleKey = "skiff-console"

    static func binds(of spec: Spec) -> [(destination: String, source: String)] {
        (spec.mounts ?? []).compactMap { mount in
            guard mount.isBind, let source = mount.source else { return nil }
            return (mount.destination, source)
        }
    }
}

extension Runtime {
    // MARK: checkpoint

    /// Saves a running (or paused) container with CRIU. Without `leaveRunning` (or
    /// `preDump`), the container is then deleted, as runc does; when CRIU fails, nothing
    /// changes: the container runs on (CRIU's ptrace stop ends with it).
    public func checkpoint(id: String, options: CheckpointOptions) throws(RuntimeError) {
        let id = try ContainerID(id)
        try options.validate()
        let directory = try store.lock(id)
        guard let record = try store.read(id) else { throw .wrongState(id: id.value, status: .creating, action: "checkpoint") }
        let status = self.status(of: record, directory: directory)
        guard status == .running || status == .paused else { throw .wrongState(id: id.value, status: status, action: "checkpoint") }
        let spec: Spec
        do { spec = try SpecLoader.load(bundle: record.bundle) } catch { throw .spec(error) }
        guard let criu = CRIU.locate(options.criuPath) else { throw .criu("not installed (apt-get install criu), or --criu names no program") }
        // Refusals first: nothing (not even the image directory) is made for a container
        // that cannot be checkpointed.
        let joined = try externalNamespaces(of: spec, pid: record.pid, id: id.value)

        let images = try absoluteDirectory(options.imagePath, creating: true, what: "--image-path")
        var options = options
        if let work = options.workPath { options.workPath = try absoluteDirectory(work, creating: true, what: "--work-path") }
        // CRIU writes its log into the work directory (the image directory without one).
        let log = (options.workPath ?? images) + "/dump.log"
        var arguments = [options.preDump ? "pre-dump" : "dump", "--tree", String(record.pid), "--images-dir", images, "-v4"]
        arguments += ["--log-file", "dump.log", "--root", record.rootfs]
        arguments += options.sharedArguments
        if options.leaveRunning { arguments.append("--leave-running") }
        if options.tcpSkipInFlight { arguments.append("--tcp-skip-in-flight") }
        if let server = options.pageServer, let colon = server.lastIndex(of: ":") {
            // Lazy: CRIU serves the pages at the address; else it sends them to a server there.
            arguments += (options.lazyPages ? [] : ["--page-server"]) + ["--address", String(server[..<colon]), "--port", String(server[server.index(after: colon)...])]
        }
        if let status = options.statusDescriptor { arguments += ["--status-fd", String(status)] }
        if options.linkRemap { arguments.append("--link-remap") }
        if let parent = options.parentPath {
            guard isDirectory(images + "/" + parent) else { throw .usage("--parent-path: \(images)/\(parent) is not a directory") }
            arguments += ["--prev-images-dir", parent]
        }
        // Memory changes are tracked for a later dump against this one (and by one against a parent).
        if options.preDump || options.parentPath != nil { arguments.append("--track-mem") }
        // A paused container stays frozen: CRIU dumps it through its freezer.
        if status == .paused, let freezer = Self.cgroup(of: record).cgroup.directories.first(where: { $0.version == .v2 || $0.controllers.contains("freezer") })?.path {
            arguments += ["--freeze-cgroup", freezer]
        }
        arguments += joined
        // A task with skiff's network: its namespace is external too (the restore makes a new
        // one with its interface and address, and its rules on the node).
        var address: String?
        if let bridge = record.networkBridge, let leases = record.networkLeases {
            do throws(NetworkError) { address = try TaskNetwork.lease(of: directory.path, bridge: bridge, leases: leases)?.address.description } catch {
                throw RuntimeError(error)
            }
            arguments += ["--external", "net[\(try Self.namespaceInode(pid: record.pid, kind: "net"))]:\(Self.taskNetworkKey)"]
        }
        if !options.preDump {
            for bind in ExternalMounts.binds(of: spec) { arguments += ["--external", "mnt[\(bind.destination)]:\(bind.destination)"] }
            for path in spec.linux?.maskedPaths ?? [] where Self.isFile("/proc/\(record.pid)/root" + path) {
                arguments += ["--external", "mnt[\(path)]:\(ExternalMounts.devnullKey)"]
            }
            let mounts = Self.mountInfo(of: record.pid)
            if spec.process?.terminal == true {
                let points = Set(mounts.compactMap { $0.count > 4 ? $0[4] : nil })  // mount points
                if let devpts = spec.mounts?.first(where: { $0.type == "devpts" }), points.contains(devpts.destination) {
                    arguments += ["--external", "mnt[\(devpts.destination)]:\(ExternalMounts.devptsKey)"]
                }
                if points.contains("/dev/console") { arguments += ["--external", "mnt[/dev/console]:\(ExternalMounts.consoleKey)"] }
            }
            let descriptors = Self.standardDescriptors(of: record.pid, mounts: mounts)
            let terminals = Self.externalTerminals(of: record.pid, standard: descriptors)
            for key in Set(descriptors.filter { $0.hasPrefix("file[") }) + terminals { arguments += ["--external", key] }
            let saved = CheckpointRecord(descriptors: descriptors, terminal: spec.process?.terminal == true, terminals: terminals, address: address)
            try writeAtomically(saved.json.serialized(pretty: true) + "\n", to: images + "/" + CheckpointRecord.fileName)
        }
        // A dump runs to its end even if skiff is killed (CRIU killed mid-dump could leave a
        // task half-infected by its parasite); not a lazy one, which would serve its pages on.
        do { try criu.run(arguments, log: log, inheriting: options.statusDescriptor.map { [$0] } ?? [], outlivingSkiff: !options.lazyPages) } catch {
            // Nothing of skiff's stays; CRIU's log does, for the reason the error names.
            unlink(images + "/" + CheckpointRecord.fileName)
            throw error
        }
        if !options.leaveRunning, !options.preDump {
            // CRIU has ended the task; what skiff made for it goes (runc destroys it too).
            directory.unlock()
            try delete(id: id.value, force: true)
        }
    }

    /// CRIU's `--external` flags for namespaces the container joined by path: network and
    /// pid (CRIU leaves those to the restore to hand back); any other joined namespace is
    /// one CRIU would recreate empty, so it is refused, naming it.
    func externalNamespaces(of spec: Spec, pid: Int32, id: String) throws(RuntimeError) -> [String] {
        var arguments: [String] = []
        for namespace in spec.linux?.namespaces ?? [] {
            guard let path = namespace.path, !path.isEmpty else { continue }
            switch namespace.type {
            case "network", "pid":
                let kind = namespace.type == "network" ? "net" : "pid"
                arguments += ["--external", "\(kind)[\(try Self.namespaceInode(pid: pid, kind: kind))]:\(Self.externalNamespaceKey(namespace.type))"]
            default:
                throw .usage(
                    "cannot checkpoint container \"\(id)\": linux.namespaces: it joined the \(namespace.type) namespace at \(path), which CRIU cannot hand back on restore (only network and pid); nothing was changed"
                )
            }
        }
        return arguments
    }

    /// What the task's descriptors 0, 1 and 2 are, as the restore hands them back: a pipe
    /// ("pipe:[123]") as it is; a file on a mount the container does not have (the node's
    /// /dev/null that a supervisor gives a task without input) as CRIU's external-file key,
    /// `file[MNT_ID:INODE]` (hex), which CRIU would otherwise refuse ("Can't lookup mount");
    /// a terminal, from outside (a shell's) or the container's own pty (whose master is
    /// outside, with the console socket's receiver), as CRIU's external-tty key
    /// `tty[RDEV:DEV]` (hex), handed back by the restore, whose CRIU then gives the session
    /// its controlling terminal again; anything else by its path.
    /// `mounts`: the task's `mountInfo`.
    static func standardDescriptors(of pid: Int32, mounts: [[String]]) -> [String] {
        let mountIDs = Set(mounts.compactMap { $0.first })
        return (0...2).map { number in
            let target = readLink("/proc/\(pid)/fd/\(number)") ?? ""
            guard target.hasPrefix("/"), let info = try? readFile("/proc/\(pid)/fdinfo/\(number)") else { return target }
            var status = stat()
            guard stat("/proc/\(pid)/fd/\(number)", &status) == 0 else { return target }
            if Self.isTerminal(status) { return Self.terminalKey(status) }
            let mountID = String(decoding: info, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("mnt_id:") }.map {
                $0.dropFirst("mnt_id:".count).trimmingWhitespace
            }
            guard let mountID, !mountIDs.contains(mountID), let mount = UInt(mountID) else { return target }
            return "file[\(String(mount, radix: 16)):\(String(status.st_ino, radix: 16))]"
        }
    }

    /// CRIU's external-tty keys for the terminals the task's processes hold whose master is
    /// not theirs, which the restore hands back: the one on its standard descriptors, and
    /// /dev/tty, its controlling terminal opened by name (an interactive shell holds it),
    /// which CRIU could otherwise restore only with that master. Not /dev/tty when some
    /// process holds a pty slave of another terminal (a pair inside the container, which CRIU
    /// restores itself): /dev/tty is then CRIU's to restore, or to refuse.
    static func externalTerminals(of pid: Int32, standard: [String]) -> [String] {
        let given = Set(standard.filter { $0.hasPrefix("tty[") })
        guard !given.isEmpty else { return [] }
        var controlling: Set<String> = [], others = false
        for process in processTree(of: pid) {
            for entry in listDirectory("/proc/\(process)/fd") {
                var status = stat()
                guard stat("/proc/\(process)/fd/\(entry)", &status) == 0, status.st_mode & S_IFMT == S_IFCHR else { continue }
                if status.st_rdev == Self.controllingTerminalDevice {
                    controlling.insert(terminalKey(status))
                } else if isTerminal(status), !given.contains(terminalKey(status)) {
                    others = true
                }
            }
        }
        return given.sorted() + (others ? [] : controlling.sorted())
    }

    /// /dev/tty's device number (5, 0).
    static let controllingTerminalDevice: UInt = 0x500

    /// CRIU's key for a tty, `tty[RDEV:DEV]` (hex).
    static func terminalKey(_ status: stat) -> String { "tty[\(String(status.st_rdev, radix: 16)):\(String(status.st_dev, radix: 16))]" }

    /// `pid` and its descendants (every thread's children), as CRIU's `--tree` dumps them.
    static func processTree(of pid: Int32) -> [Int32] {
        var tree: [Int32] = [], pending = [pid]
        while let process = pending.popLast(), tree.count < 100_000 {
            tree.append(process)
            for thread in listDirectory("/proc/\(process)/task") {
                let children = (try? readFile("/proc/\(process)/task/\(thread)/children")).map { String(decoding: $0, as: UTF8.self) } ?? ""
                pending += children.split(separator: " ").compactMap { Int32($0.trimmingWhitespace) }
            }
        }
        return tree
    }

    /// A terminal a task can be given: a pty's slave (majors 136-143) or a virtual or serial
    /// console (4). Not major 5's /dev/tty, /dev/console and /dev/ptmx, which CRIU restores
    /// from the task's own session and devpts.
    static func isTerminal(_ status: stat) -> Bool {
        let major = ((status.st_rdev >> 8) & 0xfff) | ((status.st_rdev >> 32) & ~0xfff)  // glibc's major()
        return status.st_mode & S_IFMT == S_IFCHR && (major == 4 || (136...143).contains(major))
    }

    /// The task's mount table, a line's fields each (/proc/PID/mountinfo).
    static func mountInfo(of pid: Int32) -> [[String]] {
        let text = (try? readFile("/proc/\(pid)/mountinfo")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    }

    static func externalNamespaceKey(_ type: String) -> String { "skiff-external-\(type)" }
    /// The key of a task's own network namespace, made by skiff (and again by its restore).
    static let taskNetworkKey = "skiff-task-network"

    static func namespaceInode(pid: Int32, kind: String) throws(RuntimeError) -> UInt {
        var status = stat()
        guard stat("/proc/\(pid)/ns/\(kind)", &status) == 0 else { throw .system("reading /proc/\(pid)/ns/\(kind)", errno) }
        return status.st_ino
    }

    static func isFile(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT != S_IFDIR
    }

    func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// `path` made absolute (and made, when `creating`), as a directory.
    func absoluteDirectory(_ path: String, creating: Bool, what: String) throws(RuntimeError) -> String {
        if creating, !isDirectory(path) {
            do throws(SystemError) { _ = try makeDirectories(path, mode: 0o700) } catch { throw .usage("\(what): \(path): \(error.reason)") }
        }
        return try absoluteDirectory(path, what: what)
    }
}
