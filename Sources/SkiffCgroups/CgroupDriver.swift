// SPDX-License-Identifier: Apache-2.0
import SkiffSpec
import SkiffSystem

/// How a container's cgroup is made, limited, found and removed. The rest of skiff speaks to
/// this protocol only; which driver runs is decided once, at create, and recorded with the
/// cgroup (`ContainerCgroup.driver`), so every later command uses the same one. The drivers
/// are cgroupfs (v2, with v1 on hybrid hosts), systemd (which composes cgroupfs) and none;
/// crun's `libcrun_cgroup_manager` and youki's `CgroupManager` are the shape this follows.
/// `CgroupDrivers` is the one place a driver is chosen.
public protocol CgroupDriver: Sendable {
    /// The name recorded with a cgroup, and shown by `features` and `--version`.
    static var name: String { get }

    /// Where `cgroupsPath` puts container `id`, whose directories exist already, and so whose
    /// they are: nothing is made. Refuses a path that is not a container's to have.
    func plan(cgroupsPath: String?, id: String) throws(SpecError) -> ContainerCgroup
    /// What `resources` mean on this host: validated, nothing written.
    func plan(_ resources: Spec.Resources) throws(SpecError) -> ResourcePlan
    /// Decides what `create` will change above the cgroup, so the record can name it first.
    func planAncestors(_ cgroup: inout ContainerCgroup, for plan: ResourcePlan)
    /// Makes the cgroup and writes the plan; on failure, undoes what it made.
    func create(_ cgroup: ContainerCgroup, plan: ResourcePlan) throws(CgroupError)
    /// The files a new container process writes "0" to, itself, before its exec, to join the
    /// cgroup: cgroup v1's `tasks`, where a thread moving itself skips the kernel's global
    /// threadgroup lock, whose RCU grace period every pid written to `cgroup.procs` waits for
    /// with cgroup_mutex held (every create, mkdir and rmdir on the node queues behind it).
    /// Opened here, so that one that cannot be opened fails before the clone.
    func selfJoinFiles(of cgroup: ContainerCgroup) throws(CgroupError) -> [CgroupJoinFile]
    /// Moves `pid` into the cgroup; `bornInside`: clone3 put it in the v2 directory already;
    /// `joinedItself`: it wrote to every file of `selfJoinFiles` before its exec.
    func attach(_ cgroup: ContainerCgroup, pid: Int32, bornInside: Bool, joinedItself: Bool) throws(CgroupError)
    /// New limits for an existing cgroup (`update`).
    func update(_ cgroup: ContainerCgroup, plan: ResourcePlan) throws(CgroupError)

    func processes(_ cgroup: ContainerCgroup) -> [Int32]
    /// Signals the container's processes: all of a cgroup the driver made, only those
    /// `belongs` accepts in one it did not.
    func signal(_ cgroup: ContainerCgroup, _ signal: Int32, belongs: (Int32) -> Bool)
    func isFrozen(_ cgroup: ContainerCgroup) -> Bool
    func freeze(_ cgroup: ContainerCgroup) throws(CgroupError)
    func thaw(_ cgroup: ContainerCgroup) throws(CgroupError)
    func stats(_ cgroup: ContainerCgroup) -> CgroupStats
    /// Kills the container's processes and removes what the driver made; safe to repeat.
    func destroy(_ cgroup: ContainerCgroup, belongs: (Int32) -> Bool) throws(CgroupError)
    /// What the container's `/sys/fs/cgroup` (a `cgroup` mount of its config) shows, given the
    /// namespaces it gets: decided here, where the hierarchies are known, and only mounted by
    /// the launch plan.
    func mountView(of cgroup: ContainerCgroup, namespaces: CgroupMountView.Namespaces) -> CgroupMountView
    /// What this driver made for container `id` at its default place (no `cgroupsPath`), if it
    /// is there: for `delete --force` of a container whose record is lost, whose cgroup can
    /// only be found by the name skiff alone gives.
    func leftover(ofDefault id: String) -> ContainerCgroup?
}

/// A cgroup file a new container process writes "0" to before its exec (`selfJoinFiles`),
/// opened by the driver; its path names it in an error.
public struct CgroupJoinFile: Sendable {
    public let path: String
    public let descriptor: SharedDescriptor
}

/// The drivers skiff has, by name: the one place a driver is chosen.
public enum CgroupDrivers {
    /// The names `--systemd-cgroup` and the record choose from (`none` is chosen by skiff
    /// itself, for a rootless task without delegated cgroups).
    public static let available: [String] = [CgroupfsDriver.name, SystemdDriver.name]

    /// The driver called `name` for new containers on a host whose layout is `system`.
    public static func driver(named name: String, system: CgroupSystem) -> any CgroupDriver {
        switch name {
        case SystemdDriver.name: SystemdDriver(system: system)
        case NoCgroupDriver.name: NoCgroupDriver()
        default: CgroupfsDriver(system: system)
        }
    }

    /// Every driver, for finding what a container whose record is lost left behind.
    public static func all(system: CgroupSystem) -> [any CgroupDriver] {
        [CgroupfsDriver(system: system), SystemdDriver(system: system), NoCgroupDriver()]
    }

    /// The driver that made `cgroup` (from its record): it alone knows how to undo it. A
    /// record without a cgroup is the `none` driver's.
    public static func driver(for cgroup: ContainerCgroup?) -> any CgroupDriver {
        switch cgroup?.driver {
        case nil, NoCgroupDriver.name?: NoCgroupDriver()
        case SystemdDriver.name?: SystemdDriver()
        default: CgroupfsDriver()
        }
    }
}

/// A container's `/sys/fs/cgroup`, as the driver of its cgroup answers for it.
public enum CgroupMountView: Sendable, Equatable {
    /// No cgroup of its own (rootless without delegation): the node's tree, read-only.
    case nodeTreeReadOnly
    /// One hierarchy at the mount point (a pure v2 host).
    case single(Source)
    /// A tmpfs holding one directory per hierarchy (`memory`, `cpu,cpuacct`, `unified`), as
    /// runc lays out a hybrid or v1 host.
    case perHierarchy([Entry])

    public struct Entry: Sendable, Equatable {
        /// The directory under the mount point.
        public var name: String
        public var source: Source
    }

    public enum Source: Sendable, Equatable {
        /// Mounted afresh: in a cgroup namespace it shows the container's cgroup as its root.
        case fresh(type: String, data: String)
        /// The container's own directory in that hierarchy, bind-mounted.
        case bind(String)
    }

    /// The namespaces that decide between fresh mounts and binds.
    public struct Namespaces: Sendable, Equatable {
        public var newCgroup: Bool
        public var newUser: Bool

        public init(newCgroup: Bool, newUser: Bool) {
            self.newCgroup = newCgroup
            self.newUser = newUser
        }
    }
}
