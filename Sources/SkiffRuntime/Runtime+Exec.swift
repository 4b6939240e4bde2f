// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffCgroups
import SkiffSeccomp
import SkiffSpec
import SkiffSystem

/// How to run an extra process in a container (runc's `exec` flags).
public struct ExecOptions: Sendable {
    public var detach = false
    public var pidFile: String?
    public var preserveFds = 0
    public var consoleSocket: String?
    /// An AF_UNIX socket to send the process's pidfd to (`PidfdSocket`).
    public var pidfdSocket: String?
    /// Run even if the container is paused (the process starts frozen).
    public var ignorePaused = false
    /// Run in this existing sub-cgroup of the container's cgroup (runc's `exec --cgroup`).
    public var subCgroup: String?

    public init() {}
}

extension Runtime {
    /// Run `process` inside container `id`: in all of its namespaces and its cgroup, with the
    /// process's own user, capabilities, no_new_privs, rlimits and the container's seccomp
    /// filter. In the foreground returns its exit status (signals are forwarded); detached,
    /// returns 0 once it runs.
    public func exec(id: String, process: Spec.Process, options: ExecOptions = ExecOptions()) throws(RuntimeError) -> Int32 {
        let id = try ContainerID(id)
        guard let record = try store.read(id) else { throw .wrongState(id: id.value, status: .creating, action: "exec into") }
        // Checked before anything is set up: a bad --cgroup leaves nothing to undo.
        var (driver, cgroup) = Self.cgroup(of: record)
        if let sub = options.subCgroup {
            if driver is NoCgroupDriver {
                throw .usage("--cgroup: container \"\(id.value)\" has no cgroup (it runs rootless, without delegated cgroups)")
            }
            guard !sub.hasPrefix("/"), !sub.split(separator: "/").contains("..") else {
                throw .usage("--cgroup: \"\(sub)\" must be a relative path inside the container's cgroup")
            }
            let nested = cgroup.nested(sub)
            if let missing = nested.directories.first(where: { access($0.path, F_OK) != 0 }) {
                throw .usage("--cgroup: \(missing.path) does not exist")
            }
            cgroup = nested
        }
        let status = self.status(of: record, directory: nil)
        guard status == .running || status == .created || (status == .paused && options.ignorePaused) else {
            throw .wrongState(id: id.value, status: status, action: "exec into")
        }
        do {
            try SpecValidator.validate(execProcess: process)
            try SecurityModules.check(process, mountLabel: nil)
        } catch { throw .spec(error) }
        let spec: Spec
        do { spec = try SpecLoader.load(bundle: record.bundle) } catch { throw .spec(error) }

        // The container's process, held by a pidfd checked against its start time: never a recycled pid.
        let opened = skiff_pidfd_open(record.pid)
        let pidfd = opened >= 0 ? FileDescriptor(adopting: opened) : nil
        guard let pidfd, ProcessStat.isRunning(pid: record.pid, startTime: record.pidStartTime) else {
            throw .wrongState(id: id.value, status: .stopped, action: "exec into")
        }
        var flags: Int64 = 0
        for namespace in spec.linux?.namespaces ?? [] {
            if let kind = namespace.kind, let flag = PlanBuilder.cloneFlags[kind] { flags |= flag }
        }

        // With SCMP_ACT_NOTIFY the exec'd process gets a listener of its own, sent to the same
        // listenerPath with the container's state (as runc does).
        let seccomp = try SeccompProgram.prepare(spec.linux?.seccomp, root: store.root, warn: { _ in })
        let console = try Self.console(terminal: process.terminal == true, socketPath: options.consoleSocket, relay: !options.detach)
        let pidfdSocket = try PidfdSocket(options.pidfdSocket)
        var choices = PlanBuilder.Options()
        choices.preserveFds = options.preserveFds
        choices.seccompFlags = seccomp?.filter.flags
        choices.console = console.child != nil
        choices.waitForStart = false
        var builder = PlanBuilder(spec: spec, bundle: record.bundle, rootfs: record.rootfs, host: HostFacts.gatherForExec(), options: choices)
        let output = try builder.buildExec(process: process, namespaceFlags: flags)
        output.warnings.forEach(warn)

        let forwarder: SignalForwarder? = options.detach ? nil : try SignalForwarder()
        defer { forwarder?.restore() }
        if !options.detach { skiff_become_subreaper() }
        let launched: LaunchedProcess
        do throws(RuntimeError) {
            let descriptors = try LaunchDescriptors(
                output.plan.descriptors,
                supplied: .init(seccompFilter: seccomp?.descriptor.rawValue, console: console.child?.rawValue, containerPidfd: pidfd.rawValue))
            launched = try Launcher.launch(output.plan, descriptors: descriptors.table, cloneFlags: 0, cgroup: cgroup, driver: driver)
        } catch {
            // The container died between the check above and the setns: say so plainly.
            if case .container(let failure) = error, failure.errno == ESRCH { throw .wrongState(id: id.value, status: .stopped, action: "exec into") }
            throw error
        }
        do throws(RuntimeError) { try pidfdSocket?.send(launched) } catch {
            // The caller would hold no handle on it: the process does not run on unsupervised.
            Glibc.kill(launched.pid, SIGKILL)
            throw error
        }
        try handOver(launched, seccomp: seccomp, state: Self.ociState(record, status: .running), pidFile: options.pidFile)
        guard let forwarder else { return 0 }
        return try waitInForeground(pid: launched.pid, pidfd: launched.pidfd?.rawValue ?? -1, relaySocket: console.relay, forwarder: forwarder)
    }
}
