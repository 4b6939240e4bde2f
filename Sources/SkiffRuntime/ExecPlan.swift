import CShims
import Glibc
import SkiffSpec

extension PlanBuilder {
    /// The plan for `skiff exec`: the same path as create, minus the rootfs. skiff-init joins
    /// every namespace of the container at once through its pidfd (user namespace first, by
    /// the kernel's rule), forks into its pid namespace, and takes the process's credentials,
    /// seccomp filter and rlimits as create does.
    mutating func buildExec(process: Spec.Process, containerPidfd: Int32, namespaceFlags: Int64) throws(RuntimeError) -> Output {
        var plan = LaunchPlan()
        for rlimit in process.rlimits ?? [] {
            plan.append(SKIFF_OP_RLIMIT, args: [Int64(LinuxNames.rlimits[rlimit.type]!),
                                                Int64(bitPattern: rlimit.soft), Int64(bitPattern: rlimit.hard)],
                        strings: [rlimit.type])
        }
        if let adj = process.oomScoreAdj { plan.append(SKIFF_OP_OOM_SCORE_ADJ, args: [Int64(adj)]) }
        plan.append(SKIFF_OP_SETNS, args: [plan.add(descriptor: containerPidfd), namespaceFlags], strings: ["of the container (pidfd)"])
        if namespaceFlags & Int64(SKIFF_CLONE_NEWPID) != 0 { plan.append(SKIFF_OP_FORK) }
        appendConsole(into: &plan, process: process, bindConsole: false)
        let noNewPrivileges = process.noNewPrivileges == true
        if let seccomp, !noNewPrivileges {
            plan.append(SKIFF_OP_SECCOMP, args: [plan.add(descriptor: seccomp.descriptor), Int64(seccomp.flags)])
        }
        try buildCredentials(into: &plan, process: process)
        if noNewPrivileges { plan.append(SKIFF_OP_NO_NEW_PRIVS) }
        plan.append(SKIFF_OP_CHDIR, strings: [process.cwd])
        if let seccomp, noNewPrivileges {
            plan.append(SKIFF_OP_SECCOMP, args: [plan.add(descriptor: seccomp.descriptor), Int64(seccomp.flags)])
        }
        plan.append(SKIFF_OP_CLOSE_FDS, args: [Int64(3 + preserveFds), -1])
        let env = process.env ?? []
        let search = env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let args = process.args!
        plan.append(SKIFF_OP_EXEC, args: [Int64(args.count), -1], strings: [search] + args + env)
        return Output(plan: plan, cloneFlags: 0, openedDescriptors: [], fifoIndex: nil)
    }
}
