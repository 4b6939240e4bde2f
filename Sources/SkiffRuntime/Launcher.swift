import CShims
import Glibc
import SkiffCgroups
import SkiffSpec
import SkiffSystem

/// A container process that skiff-init has set up and reported READY.
struct LaunchedProcess {
    /// The container's process as this host sees it.
    var pid: Int32
    /// A pidfd for `pid` (-1 if the kernel has none).
    var pidfd: Int32
    /// The seccomp notify listener, when the filter has SCMP_ACT_NOTIFY rules (else -1).
    var listenerFd: Int32 = -1
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

    static func launch(
        _ plan: LaunchPlan, cloneFlags: UInt64, cgroup: ContainerCgroup?, driver: (any CgroupDriver)? = nil, userMaps: UserMaps? = nil,
        sync: SyncHandler? = nil
    ) throws(RuntimeError) -> LaunchedProcess {
        let path = initPath()
        let image = skiff_sealed_copy(path)
        guard image >= 0 else { throw .system("loading skiff-init from \(path) (build it with `make`)", errno) }
        defer { close(image) }

        var pair: [Int32] = [-1, -1]
        try check(
            socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair),
            "creating the plan socket")
        let socket = pair[0]
        defer { close(socket) }

        var cgroupFd: Int32 = -1
        // Born in its cgroup when that exists already (a systemd scope is made with the process).
        if let unified = cgroup?.unifiedDirectory, access(unified, F_OK) == 0 {
            cgroupFd = open(unified, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard cgroupFd >= 0 else {
                let e = errno
                close(pair[1])
                throw .system("opening cgroup \(unified)", e)
            }
        }
        defer { if cgroupFd >= 0 { close(cgroupFd) } }

        let argv0 = strdup("skiff-init"), argv1 = strdup(String(pair[1]))
        defer {
            free(argv0)
            free(argv1)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = [argv0, argv1, nil]
        var request = skiff_spawn_request()
        request.clone_flags = cloneFlags
        request.cgroup_fd = cgroupFd
        request.init_fd = image
        request.sync_fd = pair[1]
        let spawned = argv.withUnsafeBufferPointer { buffer in
            request.argv = buffer.baseAddress
            return skiff_spawn(&request)
        }
        let spawnErrno = errno
        close(pair[1])
        guard spawned > 0 else { throw .system("cloning the container process", spawnErrno) }

        var process = LaunchedProcess(pid: spawned, pidfd: request.pidfd)
        do throws(RuntimeError) {
            if let cgroup {
                do { try (driver ?? CgroupDrivers.driver(for: cgroup)).attach(cgroup, pid: spawned, bornInside: request.into_cgroup != 0) } catch {
                    throw .cgroup(error)
                }
            }
            let messages = try plan.messages()
            for (i, message) in messages.enumerated() {
                let fds = i == 0 ? plan.descriptors : []
                let sent = message.withUnsafeBytes { bytes in
                    fds.withUnsafeBufferPointer { skiff_send_message(socket, bytes.baseAddress, bytes.count, $0.baseAddress, Int32($0.count)) }
                }
                try check(sent, "sending the plan to skiff-init")
            }
            try awaitReady(socket: socket, spawned: spawned, process: &process) { tag, pid throws(RuntimeError) -> [UInt8] in
                if tag == PlanBuilder.syncUserMaps, let userMaps {
                    try write(userMaps, for: spawned)
                    return []
                }
                return try sync?(tag, pid) ?? []
            }
            return process
        } catch {
            kill(spawned, SIGKILL)
            if process.pid != spawned { kill(process.pid, SIGKILL) }
            _ = Subprocess.wait(spawned)
            if process.pidfd >= 0 { close(process.pidfd) }
            if process.listenerFd >= 0 { close(process.listenerFd) }
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
        socket: Int32, spawned: Int32, process: inout LaunchedProcess,
        sync: SyncHandler
    ) throws(RuntimeError) {
        while true {
            var report = skiff_report()
            var passed: Int32 = -1
            let n = withUnsafeMutableBytes(of: &report) { skiff_receive_message(socket, $0.baseAddress, $0.count, &passed) }
            if n < 0 {
                if errno == EINTR { continue }
                // A killed skiff-init (SIGKILL with data unread) resets the socket: as EOF.
                if errno != ECONNRESET { throw .system("reading from skiff-init", errno) }
            }
            if n <= 0 {
                let status = Subprocess.wait(spawned)
                throw .container(step: "skiff-init", errno: 0, detail: "exited before the container was ready (wait status \(status))")
            }
            switch Int32(report.kind) {
            case Int32(SKIFF_REPORT_READY.rawValue):
                return
            case Int32(SKIFF_REPORT_PID.rawValue):
                // Forked into a joined pid namespace: the intermediate exits; follow the child.
                _ = Subprocess.wait(spawned)
                if process.pidfd >= 0 { close(process.pidfd) }
                process.pid = report.pid
                process.pidfd = skiff_pidfd_open(report.pid)
            case Int32(SKIFF_REPORT_SYNC.rawValue):
                var payload = try sync(Int(report.pid), process.pid)
                if payload.isEmpty { payload = [1] }
                try check(payload.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }, "releasing skiff-init")
            case Int32(SKIFF_REPORT_LISTENER.rawValue):
                guard passed >= 0 else { throw .container(step: "loading the seccomp filter", errno: 0, detail: "no listener descriptor arrived") }
                process.listenerFd = passed
            case Int32(SKIFF_REPORT_ERROR.rawValue):
                throw .container(step: text(of: report.step), errno: report.error, detail: text(of: report.detail))
            default:
                throw .container(step: "skiff-init", errno: 0, detail: "unexpected report \(report.kind)")
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
