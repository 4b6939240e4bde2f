// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffCgroups
import SkiffSpec
import SkiffSystem

/// A container process that skiff-init has set up and reported READY.
final class LaunchedProcess {
    /// The container's process as this host sees it.
    let pid: Int32
    /// A pidfd for `pid` (nil if the kernel has none).
    let pidfd: SharedDescriptor?
    /// The seccomp notify listener, when the filter has SCMP_ACT_NOTIFY rules: handed over
    /// (and closed) once, by `takeListener`.
    private var listener: SharedDescriptor?

    init(pid: Int32, pidfd: SharedDescriptor?, listener: SharedDescriptor?) {
        self.pid = pid
        self.pidfd = pidfd
        self.listener = listener
    }

    /// The listener, given up: it closes when the caller is done with it.
    func takeListener() -> SharedDescriptor? {
        defer { listener = nil }
        return listener
    }
}

/// Clones skiff-init into the new namespaces (and, on cgroup v2, straight into the
/// container's cgroup), hands it the plan, and waits for READY or the failed step.
enum Launcher {
    /// skiff-init is found beside the skiff binary (as the Makefile installs it), or where
    /// `SKIFF_INIT` says.
    static func initPath() -> String {
        if let override = getenv("SKIFF_INIT") { return String(cString: override) }
        if let exe = readLink("/proc/self/exe") {
            let candidate = String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/skiff-init"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        for candidate in ["/usr/local/libexec/skiff/skiff-init", "/usr/libexec/skiff/skiff-init"] where access(candidate, X_OK) == 0 {
            return candidate
        }
        return "skiff-init"
    }

    /// uid_map and gid_map contents for a new user namespace.
    struct UserMaps {
        var uid: String
        var gid: String
    }

    /// What the parent does at a SYNC point (tag, the container's pid so far); the bytes it
    /// returns go to skiff-init with the go.
    typealias SyncHandler = (_ tag: Int, _ pid: Int32) throws(RuntimeError) -> [UInt8]

    /// The process as the reports describe it until READY.
    private struct Following {
        var pid: Int32
        var pidfd: SharedDescriptor?
        var listener: SharedDescriptor?
    }

    /// `descriptors`: the plan's descriptor table, opened (`LaunchDescriptors.table`).
    static func launch(
        _ plan: LaunchPlan, descriptors: [Int32], cloneFlags: UInt64, cgroup: ContainerCgroup, driver: any CgroupDriver,
        userMaps: UserMaps? = nil, sync: SyncHandler? = nil
    ) throws(RuntimeError) -> LaunchedProcess {
        precondition(descriptors.count == plan.descriptors.count, "the plan's descriptors are opened before the launch")
        let path = initPath()
        let joins: [CgroupJoinFile]
        do { joins = try driver.selfJoinFiles(of: cgroup) } catch { throw .cgroup(error) }
        let spawned: Int32
        var request = skiff_spawn_request()
        let socket: SharedDescriptor
        do throws(SystemError) {
            let image = try FileDescriptor(checking: skiff_sealed_copy(path), step: "loading skiff-init from \(path) (build it with `make`)")
            let pair = try SocketPair(Int32(SOCK_SEQPACKET.rawValue), step: "creating the plan socket")
            socket = SharedDescriptor(pair.ours)
            let theirs = pair.theirs
            // Born in its cgroup when that exists already (a systemd scope is made with the process).
            var cgroupDirectory: SharedDescriptor?
            if let unified = cgroup.unifiedDirectory, access(unified, F_OK) == 0 {
                cgroupDirectory = SharedDescriptor(try FileDescriptor(opening: unified, O_RDONLY | O_DIRECTORY, step: "opening cgroup \(unified)"))
            }
            let argv0 = strdup("skiff-init"), argv1 = strdup(String(theirs.rawValue))
            let joinPaths = joins.map { strdup($0.path) }
            defer {
                free(argv0)
                free(argv1)
                joinPaths.forEach { free($0) }
            }
            let argv: [UnsafeMutablePointer<CChar>?] = [argv0, argv1, nil]
            let joinDescriptors = joins.map(\.descriptor.rawValue)
            request.clone_flags = cloneFlags
            request.cgroup_fd = cgroupDirectory?.rawValue ?? -1
            request.init_fd = image.rawValue
            request.sync_fd = theirs.rawValue
            request.join_count = Int32(joins.count)
            // The descriptors stay open until the child has its copies.
            spawned = withExtendedLifetime(joins) {
                argv.withUnsafeBufferPointer { argvBuffer in
                    joinDescriptors.withUnsafeBufferPointer { descriptorBuffer in
                        joinPaths.map { UnsafePointer($0) }.withUnsafeBufferPointer { pathBuffer in
                            request.argv = argvBuffer.baseAddress
                            request.join_fds = descriptorBuffer.baseAddress
                            request.join_paths = pathBuffer.baseAddress
                            return skiff_spawn(&request)
                        }
                    }
                }
            }
            guard spawned > 0 else { throw SystemError("cloning the container process", errno: errno) }
        } catch { throw .system(error) }

        var process = Following(pid: spawned, pidfd: request.pidfd >= 0 ? SharedDescriptor(FileDescriptor(adopting: request.pidfd)) : nil)
        do throws(RuntimeError) {
            do { try driver.attach(cgroup, pid: spawned, bornInside: request.into_cgroup != 0, joinedItself: !joins.isEmpty) } catch { throw .cgroup(error) }
            let messages = try plan.messages()
            for (i, message) in messages.enumerated() {
                let fds = i == 0 ? descriptors : []
                let sent = message.withUnsafeBytes { bytes in
                    fds.withUnsafeBufferPointer { skiff_send_message(socket.rawValue, bytes.baseAddress, bytes.count, $0.baseAddress, Int32($0.count)) }
                }
                // The child gone (one that could not join its cgroup reports why): its report.
                if sent < 0, errno == EPIPE || errno == ECONNRESET { break }
                if sent < 0 { throw .system("sending the plan to skiff-init", errno) }
            }
            try awaitReady(socket: socket, spawned: spawned, process: &process) { tag, pid throws(RuntimeError) -> [UInt8] in
                if tag == PlanBuilder.syncUserMaps, let userMaps {
                    try write(userMaps, for: spawned)
                    return []
                }
                return try sync?(tag, pid) ?? []
            }
            return LaunchedProcess(pid: process.pid, pidfd: process.pidfd, listener: process.listener)
        } catch {
            kill(spawned, SIGKILL)
            if process.pid != spawned { kill(process.pid, SIGKILL) }
            _ = Subprocess.wait(spawned)
            throw error
        }
    }

    /// The parent writes the maps (skiff-init cannot: it has no privileges over the host's ids).
    /// Without CAP_SETGID (rootless) setgroups must be denied before gid_map is written.
    private static func write(_ maps: UserMaps, for pid: Int32) throws(RuntimeError) {
        do throws(SystemError) {
            if geteuid() != 0 { try writeProcFile("/proc/\(pid)/setgroups", "deny", step: "writing setgroups for the user namespace") }
            try writeProcFile("/proc/\(pid)/uid_map", maps.uid, step: "writing uid_map (linux.uidMappings)")
            try writeProcFile("/proc/\(pid)/gid_map", maps.gid, step: "writing gid_map (linux.gidMappings)")
        } catch { throw .system(error) }
    }

    /// One write(2) of `text`: the kernel takes a map file whole, in one write, or not at all.
    private static func writeProcFile(_ path: String, _ text: String, step: String) throws(SystemError) {
        let file = try FileDescriptor(opening: path, O_WRONLY, step: step)
        let n = text.withCString { Glibc.write(file.rawValue, $0, strlen($0)) }
        guard n == text.utf8.count else { throw SystemError(step, errno: n < 0 ? errno : EIO) }
    }

    private static func awaitReady(
        socket: SharedDescriptor, spawned: Int32, process: inout Following,
        sync: SyncHandler
    ) throws(RuntimeError) {
        var reset = false
        while true {
            var report = skiff_report()
            var passed: Int32 = -1
            let n = withUnsafeMutableBytes(of: &report) { skiff_receive_message(socket.rawValue, $0.baseAddress, $0.count, &passed) }
            // A descriptor that came with a report is owned from here, whatever the report.
            let arrived = passed >= 0 ? SharedDescriptor(FileDescriptor(adopting: passed)) : nil
            if n < 0 {
                if errno == EINTR { continue }
                // A child that exits with part of the plan unread resets the socket, and the
                // kernel says so once, before what the child sent: its last report (why it
                // failed) is read next. After that, or for a killed one, as EOF.
                if errno == ECONNRESET, !reset {
                    reset = true
                    continue
                }
                if errno != ECONNRESET { throw .system("reading from skiff-init", errno) }
            }
            if n <= 0 { throw .initExited(waitStatus: Subprocess.wait(spawned)) }
            switch Int32(report.kind) {
            case Int32(SKIFF_REPORT_READY.rawValue):
                return
            case Int32(SKIFF_REPORT_PID.rawValue):
                // Forked into a joined pid namespace: the intermediate exits; follow the child.
                _ = Subprocess.wait(spawned)
                process.pid = report.pid
                let pidfd = skiff_pidfd_open(report.pid)
                process.pidfd = pidfd >= 0 ? SharedDescriptor(FileDescriptor(adopting: pidfd)) : nil
            case Int32(SKIFF_REPORT_SYNC.rawValue):
                var payload = try sync(Int(report.pid), process.pid)
                if payload.isEmpty { payload = [1] }
                if payload.withUnsafeBytes({ send(socket.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) < 0 {
                    // Killed while the parent worked for it (a hook, the network): as EOF.
                    if errno == EPIPE || errno == ECONNRESET { throw .initExited(waitStatus: Subprocess.wait(spawned)) }
                    throw .system("releasing skiff-init", errno)
                }
            case Int32(SKIFF_REPORT_LISTENER.rawValue):
                guard let arrived else { throw .container(SystemError("loading the seccomp filter", errno: 0, detail: "no listener descriptor arrived")) }
                process.listener = arrived
            case Int32(SKIFF_REPORT_ERROR.rawValue):
                throw .container(SystemError(text(of: report.step), errno: report.error, detail: text(of: report.detail)))
            default:
                throw .container(SystemError("skiff-init", errno: 0, detail: "unexpected report \(report.kind)"))
            }
        }
    }

    private static func text<T>(of field: T) -> String {
        withUnsafeBytes(of: field) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
