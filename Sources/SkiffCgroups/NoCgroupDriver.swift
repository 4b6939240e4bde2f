// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec

/// The driver for a task without a cgroup of its own: rootless, with nothing delegated to its
/// user (crun models this as a manager too). Nothing is made, limited or removed; the task is
/// reached through its init alone, and sees the node's cgroup tree read-only.
public struct NoCgroupDriver: CgroupDriver {
    public static let name = "none"

    public init() {}

    /// No directories: the container is in whatever cgroup its creator is.
    public func plan(cgroupsPath: String?, id: String) throws(SpecError) -> ContainerCgroup {
        var cgroup = ContainerCgroup(relativePath: "", directories: [])
        cgroup.driver = Self.name
        return cgroup
    }

    /// Nothing to write limits into: the plan is empty (the caller warns that they are not applied).
    public func plan(_ resources: Spec.Resources) throws(SpecError) -> ResourcePlan { ResourcePlan() }
    public func planAncestors(_ cgroup: inout ContainerCgroup, for plan: ResourcePlan) {}
    public func create(_ cgroup: ContainerCgroup, plan: ResourcePlan) throws(CgroupError) {}
    public func selfJoinFiles(of cgroup: ContainerCgroup) throws(CgroupError) -> [CgroupJoinFile] { [] }
    public func attach(_ cgroup: ContainerCgroup, pid: Int32, bornInside: Bool, joinedItself: Bool) throws(CgroupError) {}

    public func update(_ cgroup: ContainerCgroup, plan: ResourcePlan) throws(CgroupError) {
        throw CgroupError("updating", path: "the container", reason: "it has no cgroup (rootless, without delegated cgroups)")
    }

    public func processes(_ cgroup: ContainerCgroup) -> [Int32] { [] }
    public func signal(_ cgroup: ContainerCgroup, _ signal: Int32, belongs: (Int32) -> Bool) {}
    public func isFrozen(_ cgroup: ContainerCgroup) -> Bool { false }

    public func freeze(_ cgroup: ContainerCgroup) throws(CgroupError) {
        throw CgroupError("freezing", path: "the container", reason: "it has no cgroup (rootless, without delegated cgroups)")
    }

    public func thaw(_ cgroup: ContainerCgroup) throws(CgroupError) {
        throw CgroupError("thawing", path: "the container", reason: "it has no cgroup (rootless, without delegated cgroups)")
    }

    public func stats(_ cgroup: ContainerCgroup) -> CgroupStats { CgroupStats() }
    public func destroy(_ cgroup: ContainerCgroup, belongs: (Int32) -> Bool) throws(CgroupError) {}
    public func mountView(of cgroup: ContainerCgroup, namespaces: CgroupMountView.Namespaces) -> CgroupMountView { .nodeTreeReadOnly }
    public func leftover(ofDefault id: String) -> ContainerCgroup? { nil }
}
