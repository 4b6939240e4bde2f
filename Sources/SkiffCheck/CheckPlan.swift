// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffNetwork
import SkiffSpec
import SkiffSystem

/// What the checked task's config and the policy promise, turned into the probe's
/// arguments and, once it has reported, into verdicts.
struct CheckPlan {
    var spec: Spec
    var policy: CheckPolicy
    var groups: Set<CheckGroup>
    /// Where the probe is mounted in the task.
    var probePath: String
    /// The runtime binary under test (a host binary no task may reach).
    var runtimePath: String

    /// Calls the probe can make harmlessly, with the errno the kernel itself gives them
    /// (so that any other answer is the seccomp filter's). Matches programs/skiff-probe.c.
    static let probeSyscalls: [String: Int32] = [
        "ptrace": ESRCH, "mount": ENOENT, "umount2": ENOENT, "unshare": EINVAL, "setns": EBADF, "keyctl": EOPNOTSUPP,
        "add_key": EFAULT, "request_key": EFAULT, "userfaultfd": EINVAL, "perf_event_open": EFAULT, "clock_settime": EINVAL,
        "kcmp": ESRCH, "process_vm_readv": EFAULT, "set_mempolicy": EINVAL, "iopl": EINVAL,
    ]

    /// The probe's names for the namespaces (those of /proc/self/ns).
    static let namespaceFiles: [(Spec.NamespaceKind, String)] = [
        (.pid, "pid"), (.network, "net"), (.ipc, "ipc"), (.uts, "uts"), (.mount, "mnt"), (.cgroup, "cgroup"), (.user, "user"), (.time, "time"),
    ]

    private var linux: Spec.Linux { spec.linux ?? Spec.Linux() }
    private var resources: Spec.Resources { linux.resources ?? Spec.Resources() }
    var memoryLimit: Int64? { resources.memory?.limit.flatMap { $0 > 0 ? $0 : nil } }
    var network: NetworkConfig? { try? NetworkConfig.parse(annotations: spec.annotations) }

    func wants(_ group: CheckGroup) -> Bool { groups.isEmpty || groups.contains(group) }

    /// The memory the probe allocates past: the config's limit, or the policy's maximum
    /// when that is lower or the config has none.
    var memoryToOverrun: Int64? {
        switch (memoryLimit, policy.maxMemory) {
        case let (limit?, max?): return min(limit, max)
        case let (limit?, nil): return limit
        case let (nil, max?): return max
        default: return nil
        }
    }

    var cpuShare: Double? {
        guard let quota = resources.cpu?.quota, quota > 0 else { return nil }
        let share = Double(quota) / Double(resources.cpu?.period ?? 100_000)
        return share < Double(sysconf(Int32(_SC_NPROCESSORS_ONLN))) ? share : nil
    }

    var probeArguments: [String] {
        var arguments: [String] = []
        for group in groups.sorted(by: { $0.rawValue < $1.rawValue }) { arguments += ["--only", group.rawValue] }
        if wants(.seccomp) {
            for name in Self.probeSyscalls.keys.sorted() { arguments += ["--syscall", name] }
        }
        if wants(.filesystem) {
            for path in linux.maskedPaths ?? [] { arguments += ["--masked", path] }
            for path in linux.readonlyPaths ?? [] { arguments += ["--readonly", path] }
        }
        if wants(.resources) {
            if let bytes = memoryToOverrun { arguments += ["--memory", String(bytes)] }
            if cpuShare != nil { arguments.append("--cpu") }
            if let pids = resources.pids?.limit, pids > 0 { arguments += ["--pids", String(pids)] }
        }
        if wants(.network) {
            for peer in policy.reachable + policy.unreachable { arguments += ["--peer", peer] }
        }
        return arguments
    }

    // MARK: - Verdicts

    func evaluate(_ report: ProbeReport) -> [CheckResult] {
        var results: [CheckResult] = []
        if wants(.namespaces) { results += namespaces(report) }
        if wants(.identity) { results += identity(report) }
        if wants(.privilege) { results += privilege(report) }
        if wants(.seccomp) { results += seccomp(report) }
        if wants(.filesystem) { results += filesystem(report) }
        if wants(.resources) { results += self.resources(report) }
        if wants(.network) { results += networkResults(report) }
        return results
    }

    private static func compare(_ group: CheckGroup, _ property: String, expected: String, observed: String?, why: String = "") -> CheckResult {
        guard let observed else { return CheckResult(group, property, expected: expected, observed: "-", status: .fail, why: "the probe did not report it") }
        return CheckResult(group, property, expected: expected, observed: observed, status: observed == expected ? .pass : .fail, why: why)
    }

    private func namespaces(_ report: ProbeReport) -> [CheckResult] {
        var results: [CheckResult] = []
        let configured = linux.namespaces ?? []
        for (kind, file) in Self.namespaceFiles {
            let host = readLink("/proc/self/ns/\(file)") ?? "?"
            let observed = report["ns.\(file)"]
            let entry = configured.first { $0.kind == kind }
            if let path = entry?.path {
                results.append(
                    Self.compare(.namespaces, "\(kind.rawValue) namespace (joined \(path))", expected: namespaceName(at: path, kind: file) ?? "?", observed: observed))
            } else if entry != nil || policy.namespaces.contains(kind.rawValue) {
                let own = observed != nil && observed != host && observed?.hasPrefix("unknown") == false
                results.append(
                    CheckResult(
                        .namespaces, "\(kind.rawValue) namespace", expected: "its own (not \(host))", observed: observed ?? "-",
                        status: own ? .pass : .fail, why: entry == nil ? "the policy requires it" : ""))
            } else {
                results.append(Self.compare(.namespaces, "\(kind.rawValue) namespace", expected: host, observed: observed, why: "not configured: the host's"))
            }
        }
        let newUTS = configured.contains { $0.kind == .uts }
        if newUTS, let hostname = spec.hostname, !hostname.isEmpty {
            results.append(Self.compare(.namespaces, "hostname", expected: hostname, observed: report["hostname"]))
        }
        if newUTS, let domain = spec.domainname, !domain.isEmpty {
            results.append(Self.compare(.namespaces, "domainname", expected: domain, observed: report["domainname"]))
        }
        return results
    }

    private func identity(_ report: ProbeReport) -> [CheckResult] {
        let user = spec.process?.user ?? Spec.User()
        let umask = String(user.umask ?? 0o022, radix: 8)
        let groups = Set(user.additionalGids ?? []).subtracting([user.gid]).sorted().map(String.init).joined(separator: ",")
        let observedGroups = (report["groups"] ?? "").split(separator: ",").compactMap { UInt32($0) }
        return [
            Self.compare(.identity, "uid", expected: String(user.uid), observed: report["uid"]),
            Self.compare(.identity, "gid", expected: String(user.gid), observed: report["gid"]),
            Self.compare(
                .identity, "supplementary groups", expected: groups.isEmpty ? "-" : groups,
                observed: report["groups"].map { _ in
                    let list = Set(observedGroups).subtracting([user.gid]).sorted().map(String.init).joined(separator: ",")
                    return list.isEmpty ? "-" : list
                }),
            Self.compare(.identity, "umask", expected: String(repeating: "0", count: max(0, 4 - umask.count)) + umask, observed: report["umask"]),
        ]
    }

    /// The bitmask of capability names, as /proc/PID/status prints it (16 hex digits).
    static func mask(_ names: [String]?) -> UInt64 {
        (names ?? []).reduce(0) { mask, name in LinuxNames.capabilities[name].map { mask | (1 << UInt64($0)) } ?? mask }
    }

    static func names(_ mask: UInt64) -> String {
        let names = LinuxNames.capabilities.filter { mask & (1 << UInt64($0.value)) != 0 }.sorted { $0.value < $1.value }.map(\.key)
        return names.isEmpty ? "none" : names.joined(separator: ",")
    }

    private func privilege(_ report: ProbeReport) -> [CheckResult] {
        var results: [CheckResult] = []
        let caps = spec.process?.capabilities
        let lastCap = (try? readFile("/proc/sys/kernel/cap_last_cap")).flatMap { Int(String(decoding: $0, as: UTF8.self).trimmingWhitespace) } ?? 40
        let known: UInt64 = lastCap >= 63 ? .max : (1 << UInt64(lastCap + 1)) - 1
        var granted: UInt64 = 0
        var everySetObserved = true
        for (set, names) in [
            ("inheritable", caps?.inheritable), ("permitted", caps?.permitted), ("effective", caps?.effective),
            ("bounding", caps?.bounding), ("ambient", caps?.ambient),
        ] {
            let expected = Self.mask(names) & known
            let observed = report["cap.\(set)"].flatMap { UInt64($0, radix: 16) }
            granted |= observed ?? 0
            if observed == nil { everySetObserved = false }
            results.append(
                CheckResult(
                    .privilege, "\(set) capabilities", expected: Self.names(expected), observed: observed.map(Self.names) ?? "-",
                    status: observed == expected ? .pass : .fail))
        }
        for name in policy.forbiddenCapabilities {
            let bit = UInt64(1) << UInt64(LinuxNames.capabilities[name]!)
            // A capability in no set the probe reported is not one in no set: nothing observed fails.
            guard everySetObserved else {
                results.append(
                    CheckResult(
                        .privilege, "no \(name) (policy)", expected: "in no set", observed: "-", status: .fail,
                        why: "the probe did not report every capability set"))
                continue
            }
            results.append(
                CheckResult(
                    .privilege, "no \(name) (policy)", expected: "in no set", observed: granted & bit == 0 ? "in no set" : "granted",
                    status: granted & bit == 0 ? .pass : .fail))
        }
        let noNewPrivs = spec.process?.noNewPrivileges == true
        results.append(Self.compare(.privilege, "no_new_privs", expected: noNewPrivs ? "1" : "0", observed: report["nonewprivs"]))
        if policy.noNewPrivileges == true {
            results.append(Self.compare(.privilege, "no_new_privs (policy)", expected: "1", observed: report["nonewprivs"]))
        }
        results.append(Self.securityLabel(spec.process, observed: report["lsm.label"]))
        let effective = Self.mask(caps?.effective)
        for (operation, capability) in [("mount", "CAP_SYS_ADMIN"), ("sethostname", "CAP_SYS_ADMIN"), ("rawsocket", "CAP_NET_RAW")] {
            let property = operation == "rawsocket" ? "a raw socket" : "\(operation)(2)"
            if effective & (1 << UInt64(LinuxNames.capabilities[capability]!)) != 0 {
                results.append(
                    CheckResult(
                        .privilege, property, expected: "-", observed: report["op.\(operation)"] ?? "-", status: .skip,
                        why: "\(capability) is granted"))
                continue
            }
            let observed = report["op.\(operation)"]
            results.append(
                CheckResult(
                    .privilege, property, expected: "refused (no \(capability))", observed: observed ?? "-",
                    status: observed != nil && observed != "ok" ? .pass : .fail))
        }
        return results
    }

    /// The process's AppArmor profile or SELinux label, as the kernel reports it. Without one
    /// in the config, what the process runs under is reported (AppArmor's "unconfined", or none).
    static func securityLabel(_ process: Spec.Process?, observed: String?) -> CheckResult {
        let wanted = [process?.apparmorProfile, process?.selinuxLabel].compactMap { $0 }.first { !$0.isEmpty }
        guard let wanted else {
            return CheckResult(.privilege, "security label", expected: "-", observed: observed ?? "-", status: .pass)
        }
        // AppArmor shows "profile (enforce)"; SELinux the context itself.
        let matches = observed == wanted || observed?.hasPrefix(wanted + " (") == true
        return CheckResult(.privilege, "security label", expected: wanted, observed: observed ?? "-", status: matches ? .pass : .fail)
    }

    /// How the profile answers `name` with zero arguments: nil when it allows it (or only
    /// conditionally, which the probe cannot judge).
    private func seccompAnswer(_ name: String) -> (expected: String, why: String)? {
        guard let profile = linux.seccomp else { return nil }
        // libseccomp keeps the first rule for a syscall; a later one with another action is refused.
        let rule = (profile.syscalls ?? []).first { $0.names.contains(name) }
        if let rule, !(rule.args ?? []).isEmpty { return nil }
        let action = rule?.action ?? profile.defaultAction
        let errno = rule?.errnoRet ?? profile.defaultErrnoRet ?? UInt32(EPERM)
        switch action {
        case "SCMP_ACT_ERRNO": return ("errno:\(errno)", rule == nil ? "the default action" : "a rule")
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP": return ("signal:\(SIGSYS)", action)
        case "SCMP_ACT_TRACE": return ("errno:\(ENOSYS)", "SCMP_ACT_TRACE without a tracer")
        default: return nil
        }
    }

    private func seccomp(_ report: ProbeReport) -> [CheckResult] {
        var results: [CheckResult] = []
        let hostMode = Self.statusField("Seccomp") ?? "0"
        results.append(Self.compare(.seccomp, "filter mode", expected: linux.seccomp != nil ? "2" : hostMode, observed: report["seccomp"]))
        for (name, kernelErrno) in Self.probeSyscalls.sorted(by: { $0.key < $1.key }) {
            let observed = report["syscall.\(name)"]
            if let answer = seccompAnswer(name) {
                results.append(Self.compare(.seccomp, "\(name)(2) denied", expected: answer.expected, observed: observed))
            } else if policy.deniedSyscalls.contains(name) {
                let denied = observed != nil && observed != "ok" && observed != "errno:\(kernelErrno)"
                results.append(
                    CheckResult(
                        .seccomp, "\(name)(2) denied (policy)", expected: "denied", observed: observed ?? "-",
                        status: denied ? .pass : .fail, why: denied ? "" : "errno:\(kernelErrno) is the kernel's own answer"))
            }
        }
        for name in policy.deniedSyscalls where Self.probeSyscalls[name] == nil {
            results.append(
                CheckResult(
                    .seccomp, "\(name)(2) denied (policy)", expected: "denied", observed: "-", status: .skip,
                    why: "the probe has no harmless way to call it"))
        }
        return results
    }

    private func filesystem(_ report: ProbeReport) -> [CheckResult] {
        var results: [CheckResult] = []
        let readonly = spec.root?.readonly == true
        results.append(Self.compare(.filesystem, "root filesystem", expected: readonly ? "readonly" : "writable", observed: report["root"]))
        if policy.readonlyRoot == true {
            results.append(Self.compare(.filesystem, "root filesystem (policy)", expected: "readonly", observed: report["root"]))
        }
        for path in linux.maskedPaths ?? [] {
            let observed = report["masked.\(path)"]
            results.append(
                CheckResult(
                    .filesystem, "masked \(path)", expected: "empty or absent", observed: observed ?? "-",
                    status: observed.map { $0 != "readable" } ?? false ? .pass : .fail))
        }
        for path in linux.readonlyPaths ?? [] {
            let observed = report["readonly.\(path)"]
            results.append(
                CheckResult(
                    .filesystem, "read-only \(path)", expected: "readonly or absent", observed: observed ?? "-",
                    status: observed == "readonly" || observed == "absent" ? .pass : .fail))
        }
        results.append(Self.compare(.filesystem, "descriptors beyond stdio", expected: "-", observed: report["fds"]))
        let configured = Set(["/", probePath] + (spec.mounts ?? []).map(\.destination) + (linux.maskedPaths ?? []) + (linux.readonlyPaths ?? []))
        let unexpected = report.all("mount").filter { point in
            !configured.contains(point) && !point.hasPrefix("/sys/fs/cgroup/") && !point.hasPrefix("/dev/")
        }
        results.append(
            CheckResult(
                .filesystem, "mounts beyond the configured ones", expected: "none", observed: unexpected.isEmpty ? "none" : unexpected.joined(separator: ","),
                status: unexpected.isEmpty ? .pass : .fail))
        let runtimeName = runtimePath.split(separator: "/").last.map(String.init) ?? runtimePath
        let reachable = report.all("exe").filter { target in
            let path = target.hasSuffix(" (deleted)") ? String(target.dropLast(10)) : target
            return path == runtimePath || path.split(separator: "/").last.map(String.init) == runtimeName
        }
        results.append(
            CheckResult(
                .filesystem, "a host runtime binary as some process's exe", expected: "none", observed: reachable.isEmpty ? "none" : reachable.joined(separator: ","),
                status: reachable.isEmpty ? .pass : .fail))
        let blockAllowed = (resources.devices ?? []).contains { $0.allow && ($0.type == "b" || $0.type == "a" || $0.type == nil) && ($0.major == nil || $0.major == 8) }
        let device = report["device.8:0"] ?? "-"
        if blockAllowed {
            results.append(
                CheckResult(
                    .filesystem, "block device 8:0 (not in linux.devices)", expected: "-", observed: device, status: .skip, why: "linux.resources.devices allows it"))
        } else {
            results.append(
                CheckResult(
                    .filesystem, "block device 8:0 (not in linux.devices)", expected: "cannot be made or opened", observed: device,
                    status: device != "opened" && device != "-" ? .pass : .fail))
        }
        return results
    }

    private func resources(_ report: ProbeReport) -> [CheckResult] {
        var results: [CheckResult] = []
        if let limit = memoryLimit {
            let pageAligned = String(limit / 4096 * 4096)
            let observed = report["cgroup.v2.memory.max"] ?? report["cgroup.v1.memory.limit_in_bytes"]
            results.append(Self.compare(.resources, "memory limit in the cgroup", expected: pageAligned, observed: observed))
        }
        if let max = policy.maxMemory {
            let within = memoryLimit.map { $0 <= max } ?? false
            results.append(
                CheckResult(
                    .resources, "memory limit at most \(max) (policy)", expected: "≤ \(max)", observed: memoryLimit.map(String.init) ?? "none",
                    status: within ? .pass : .fail))
        }
        if let bytes = memoryToOverrun {
            let observed = report["memory.overrun"]
            results.append(
                CheckResult(
                    .resources, "allocating past \(bytes) bytes", expected: "OOM-killed (signal:9)", observed: observed ?? "-",
                    status: observed == "signal:9" ? .pass : .fail))
        }
        if let cpu = resources.cpu, let quota = cpu.quota, quota > 0 {
            let period = cpu.period ?? 100_000
            let v1 = report["cgroup.v1.cpu.cfs_quota_us"].map { "\($0) \(report["cgroup.v1.cpu.cfs_period_us"] ?? "?")" }
            results.append(Self.compare(.resources, "CPU quota in the cgroup", expected: "\(quota) \(period)", observed: report["cgroup.v2.cpu.max"] ?? v1))
        }
        if let share = cpuShare {
            let observed = report["cpu.share"].flatMap(Double.init)
            let close = observed.map { abs($0 - share) <= share * 0.15 } ?? false
            results.append(
                CheckResult(
                    .resources, "CPU share of a busy loop", expected: "\(share) ± 15%", observed: report["cpu.share"] ?? "-",
                    status: close ? .pass : .fail))
        }
        if let pids = resources.pids?.limit, pids > 0 {
            results.append(
                Self.compare(
                    .resources, "pids limit in the cgroup", expected: String(pids),
                    observed: report["cgroup.v2.pids.max"] ?? report["cgroup.v1.pids.max"]))
            let forked = report["pids.forked"].flatMap(Int64.init)
            let stopped = forked.map { $0 < pids } == true && report["pids.failure"] == "errno:\(EAGAIN)"
            results.append(
                CheckResult(
                    .resources, "forking stops at the pids limit", expected: "< \(pids) children, then EAGAIN",
                    observed: "\(report["pids.forked"] ?? "-") children, then \(report["pids.failure"] ?? "-")", status: stopped ? .pass : .fail))
        }
        for rlimit in spec.process?.rlimits ?? [] {
            results.append(Self.compare(.resources, rlimit.type, expected: "\(rlimit.soft) \(rlimit.hard)", observed: report["rlimit.\(rlimit.type)"]))
        }
        return results
    }

    private func networkResults(_ report: ProbeReport) -> [CheckResult] {
        var results: [CheckResult] = []
        let namespace = (linux.namespaces ?? []).first { $0.kind == .network }
        let interfaces = report.all("interface").sorted()
        if namespace != nil, namespace?.path == nil {
            // IPv4 addresses: loopback's only if it is up (runtimes differ); eth0 for a task
            // with its own network.
            let others = interfaces.filter { $0 != "lo 127.0.0.1" }
            var expected = ["lo (if up)"]
            var matches = others.isEmpty
            if let network {
                let address = others.first { $0.hasPrefix("eth0 ") }.flatMap { IPv4Address(String($0.dropFirst(5))) }
                expected.append("eth0 " + (network.address?.description ?? "in \(network.subnet)"))
                let inPlace = address.map { found in network.address.map { $0 == found } ?? network.subnet.contains(found) } ?? false
                matches = others.count == 1 && inPlace
            }
            results.append(
                CheckResult(
                    .network, "interfaces", expected: expected.joined(separator: ", "), observed: interfaces.joined(separator: ", "),
                    status: matches ? .pass : .fail))
        } else {
            results.append(
                CheckResult(
                    .network, "interfaces", expected: "-", observed: interfaces.joined(separator: ", "), status: .skip,
                    why: namespace == nil ? "the task shares the host's network" : "a joined network namespace"))
        }
        for peer in policy.reachable {
            results.append(Self.compare(.network, "\(peer) (policy)", expected: "reachable", observed: report["peer.\(peer)"]))
        }
        for peer in policy.unreachable {
            results.append(Self.compare(.network, "\(peer) (policy)", expected: "unreachable", observed: report["peer.\(peer)"]))
        }
        return results
    }

    // MARK: - The host's side

    static func statusField(_ field: String) -> String? {
        guard let bytes = try? readFile("/proc/self/status") else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix(field + ":") {
            return line.dropFirst(field.count + 1).trimmingWhitespace
        }
        return nil
    }
}
