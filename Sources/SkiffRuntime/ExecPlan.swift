// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec

extension PlanBuilder {
    /// The plan for `skiff exec`: the same path as create, minus the rootfs. skiff-init joins
    /// every namespace of the container at once through its pidfd (user namespace first, by
    /// the kernel's rule), forks into its pid namespace, and takes the process's credentials,
    /// seccomp filter and rlimits as create does.
    /// The container's namespaces of `namespaceFlags` are joined through its init's pidfd
    /// (`DescriptorRequest.containerPidfd`).
    mutating func buildExec(process: Spec.Process, namespaceFlags: Int64) throws(RuntimeError) -> Output {
        var plan = LaunchPlan()
        // execCPUAffinity (for exec'd processes only, by the spec): skiff-init is born in the
        // container's cgroup, so `initial` holds from its first operation and `final` from
        // the moment it is in the container's namespaces (both within the cgroup's cpuset).
        // With only `initial`, the process then gets every CPU of the cgroup back, as a move
        // into a cpuset would give it.
        let affinity = process.execCPUAffinity
        if let initial = affinity?.initial.flatMap({ CPUList.parse($0) }) { plan.cpuAffinity(initial) }
        appendLimits(process, into: &plan)
        plan.joinContainer(flags: namespaceFlags)
        if namespaceFlags & Int64(SKIFF_CLONE_NEWPID) != 0 { plan.fork() }
        if let final = affinity?.final.flatMap({ CPUList.parse($0) }) {
            plan.cpuAffinity(final)
        } else if affinity?.initial != nil {
            plan.cpuAffinity([])
        }
        // In the container's namespaces now: its /proc is checked before the label goes in.
        plan.appendExecLabels(for: process, host: host)
        appendConsole(into: &plan, process: process, bindConsole: false)
        try appendProcess(process, into: &plan, waitForStart: false)
        do { try plan.checkLimits() } catch { throw .spec(error) }
        return Output(plan: plan, cloneFlags: 0, newUserNamespace: false, warnings: warnings)
    }
}
