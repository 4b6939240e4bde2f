// SPDX-License-Identifier: Apache-2.0
import CShims

/// One typed builder per skiff-init operation: the argument positions and string order of
/// `skiff_plan.h` are written here and nowhere else, so a call site says what it means
/// (`plan.user(uid:gid:…)`), never `args: [a, b, c, 1]`.
extension LaunchPlan {
    // MARK: namespaces and process

    /// Join the namespace at `path` (`flag`: its CLONE_NEW* type); `field` names it in errors.
    mutating func setNamespace(path: String, field: String, flag: Int64) {
        append(SKIFF_OP_SETNS, args: [add(.namespace(path: path, field: field)), flag], strings: [path])
    }

    /// Join the container's namespaces of `flags` at once, through its init's pidfd (exec).
    mutating func joinContainer(flags: Int64) {
        append(SKIFF_OP_SETNS, args: [add(.containerPidfd), flags], strings: ["of the container (pidfd)"])
    }

    mutating func unshare(_ flags: Int64) { append(SKIFF_OP_UNSHARE, args: [flags]) }

    /// Fork once, to enter a pid namespace (the intermediate reports the pid and exits).
    mutating func fork() { append(SKIFF_OP_FORK) }

    /// Report SYNC with `tag` and wait for the parent's go; `keepPayloadIn` names the payload
    /// slot that keeps what the go carries.
    mutating func sync(_ tag: Int, keepPayloadIn slot: Int64? = nil) {
        append(SKIFF_OP_SYNC, args: [Int64(tag)] + (slot.map { [$0 + 1] } ?? []))
    }

    /// skiff-init sends the task's rules on the node's netlink socket (see `TaskRulesChannel`).
    mutating func sendRules() {
        append(SKIFF_OP_SEND_RULES, args: [add(.rulesSocket), add(.rulesBatch)])
    }

    mutating func becomeNamespaceRoot() { append(SKIFF_OP_USERNS_ROOT) }

    /// "monotonic S N\nboottime S N\n" for a time namespace the process enters at execve.
    mutating func timeNamespace(offsets: String) { append(SKIFF_OP_TIME_NAMESPACE, strings: [offsets]) }

    mutating func sessionKeyring(named name: String) { append(SKIFF_OP_SESSION_KEYRING, strings: [name]) }
    mutating func hostname(_ name: String) { append(SKIFF_OP_HOSTNAME, strings: [name]) }
    mutating func domainname(_ name: String) { append(SKIFF_OP_DOMAINNAME, strings: [name]) }

    mutating func rlimit(_ resource: Int32, soft: UInt64, hard: UInt64, name: String) {
        append(SKIFF_OP_RLIMIT, args: [Int64(resource), Int64(bitPattern: soft), Int64(bitPattern: hard)], strings: [name])
    }

    mutating func oomScoreAdjust(_ value: Int) { append(SKIFF_OP_OOM_SCORE_ADJ, args: [Int64(value)]) }

    mutating func personality(_ domain: Int32) { append(SKIFF_OP_PERSONALITY, args: [Int64(domain)]) }

    mutating func ioPriority(class ioClass: Int32, priority: Int) {
        append(SKIFF_OP_IO_PRIORITY, args: [Int64(ioClass), Int64(priority)])
    }

    /// sched_setattr(2): the durations travel as decimal strings (each a full u64).
    mutating func scheduler(policy: Int32, nice: Int32, priority: Int32, flags: UInt64, runtime: UInt64, deadline: UInt64, period: UInt64) {
        append(
            SKIFF_OP_SCHEDULER, args: [Int64(policy), Int64(nice), Int64(priority), Int64(bitPattern: flags)],
            strings: [String(runtime), String(deadline), String(period)])
    }

    /// sched_setaffinity(2) to `cpus`; none: every CPU (the kernel keeps the cgroup's cpuset).
    mutating func cpuAffinity(_ cpus: [Int]) { append(SKIFF_OP_CPU_AFFINITY, strings: cpus.map(String.init)) }
    mutating func memoryPolicy(modeAndFlags: Int32, nodes: [Int]) {
        append(SKIFF_OP_MEMORY_POLICY, args: [Int64(modeAndFlags)], strings: nodes.map(String.init))
    }

    // MARK: filesystem

    mutating func propagation(_ flags: Int64, of path: String) { append(SKIFF_OP_PROPAGATE, args: [flags], strings: [path]) }

    /// Bind the rootfs onto itself and open it as the root; make `masks` clones of the host's
    /// /dev/null for the masked paths.
    mutating func rootfs(_ path: String, masks: Int) { append(SKIFF_OP_ROOTFS, args: [Int64(masks)], strings: [path]) }

    /// chroot into `path` (no mount namespace of the container's own).
    mutating func chroot(_ path: String) { append(SKIFF_OP_CHROOT, strings: [path]) }

    /// A MOUNT operation; `idmap` asks for a user namespace to idmap a bind mount with.
    mutating func mount(
        _ source: String, on target: String, type: String = "", data: String = "", flags: Int64,
        cleared: Int64 = 0, propagation: Int64 = 0, kind: skiff_target_kind = SKIFF_TARGET_DIR,
        bind: Bool, idmap: DescriptorRequest? = nil
    ) {
        let idmap = idmap.map { add($0) } ?? -1
        append(
            SKIFF_OP_MOUNT, args: [flags, cleared, propagation, Int64(kind.rawValue), bind ? 1 : 0, idmap],
            strings: [source, target, type, data])
    }

    mutating func remount(_ target: String, flags: Int64) { append(SKIFF_OP_REMOUNT, args: [flags], strings: [target]) }

    mutating func makeNode(_ path: String, mode: Int64, device: Int64, uid: UInt32, gid: UInt32) {
        append(SKIFF_OP_MKNOD, args: [mode, device, Int64(uid), Int64(gid)], strings: [path])
    }

    mutating func symlink(_ target: String, at link: String) { append(SKIFF_OP_SYMLINK, strings: [target, link]) }

    /// The working directory, made in the root if it is missing (runc does so).
    mutating func makeDirectory(_ path: String, mode: Int64) { append(SKIFF_OP_MKDIR, args: [mode], strings: [path]) }

    /// pivot_root into the rootfs, or with `noPivot` move it onto / and chroot.
    mutating func pivotRoot(noPivot: Bool) { append(SKIFF_OP_PIVOT, args: [noPivot ? 1 : 0]) }

    mutating func readonlyRoot() { append(SKIFF_OP_READONLY_ROOT) }
    mutating func readonlyPath(_ path: String) { append(SKIFF_OP_READONLY_PATH, strings: [path]) }
    mutating func maskPath(_ path: String) { append(SKIFF_OP_MASK_PATH, strings: [path]) }
    mutating func sysctl(_ key: String, _ value: String) { append(SKIFF_OP_SYSCTL, strings: [key, value]) }

    // MARK: hooks and terminal

    /// A createContainer (now) or startContainer (`deferred`: just before execve) hook, the
    /// state from payload `slot` on its stdin.
    mutating func hook(_ kind: String, path: String, argv: [String], env: [String], timeout: Int, deferred: Bool, slot: Int64) {
        append(SKIFF_OP_HOOK, args: [deferred ? 1 : 0, slot, Int64(argv.count), Int64(timeout)], strings: [kind, path] + argv + env)
    }

    /// A pty whose master goes over the console socket; `bindConsole` binds its peer on /dev/console.
    mutating func console(rows: Int, columns: Int, bindConsole: Bool) {
        append(SKIFF_OP_CONSOLE, args: [add(.console), Int64(rows), Int64(columns), bindConsole ? 1 : 0])
    }

    // MARK: credentials and confinement

    /// Drop every capability not in `keep` from the bounding set (before USER: needs CAP_SETPCAP).
    mutating func bounding(keep: Int64, lastCapability: Int) { append(SKIFF_OP_BOUNDING, args: [keep, Int64(lastCapability)]) }

    mutating func user(uid: UInt32, gid: UInt32, umask: UInt32?, additionalGids: [UInt32]) {
        append(SKIFF_OP_USER, args: [Int64(uid), Int64(gid), Int64(umask ?? 0o022), 1], strings: additionalGids.map(String.init))
    }

    /// `keepSysAdmin`: keep CAP_SYS_ADMIN until the seccomp filter is loaded (without
    /// no_new_privs loading needs it), then drop it.
    mutating func capabilities(
        effective: Int64, permitted: Int64, inheritable: Int64, ambient: Int64,
        lastCapability: Int, keepSysAdmin: Bool
    ) {
        append(SKIFF_OP_CAPS, args: [effective, permitted, inheritable, ambient, Int64(lastCapability), keepSysAdmin ? 1 : 0])
    }

    mutating func noNewPrivileges() { append(SKIFF_OP_NO_NEW_PRIVS) }

    /// The compiled filter, read now and loaded by EXEC: just before execve, or with
    /// `beforeReady` (a notify listener) just before READY.
    mutating func seccomp(flags: UInt32, beforeReady: Bool) {
        append(SKIFF_OP_SECCOMP, args: [add(.seccompFilter), Int64(flags), beforeReady ? 0 : 1])
    }

    /// An LSM label for the process's execve: `attribute` under /proc/thread-self/attr.
    mutating func execLabel(_ attribute: String, _ value: String) { append(SKIFF_OP_EXEC_LABEL, strings: [attribute, value]) }

    mutating func changeDirectory(_ path: String) { append(SKIFF_OP_CHDIR, strings: [path]) }

    /// Close every descriptor from `first` up but the plan socket, the exec fifo (descriptor
    /// index `fifo`) and the label attributes.
    mutating func closeDescriptors(from first: Int, keepingFifo fifo: Int64?) { append(SKIFF_OP_CLOSE_FDS, args: [Int64(first), fifo ?? -1]) }

    /// Look `args[0]` up in `search`, report READY, wait on the exec fifo if `waitForStart`,
    /// run the startContainer hooks, and execve.
    mutating func exec(_ args: [String], env: [String], search: String, waitForStart: Bool) {
        append(SKIFF_OP_EXEC, args: [Int64(args.count), waitForStart ? 1 : -1], strings: [search] + args + env)
    }
}
