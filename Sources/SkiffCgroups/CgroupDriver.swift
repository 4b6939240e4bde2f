import SkiffSpec

/// How a container's cgroup is made, limited, found and removed. The rest of skiff speaks to
/// this protocol only; which driver runs is decided once, at create, and recorded with the
/// cgroup (`ContainerCgroup.driver`), so every later command uses the same one. cgroupfs (v2,
/// with v1 on hybrid hosts) is the driver today; crun's `libcrun_cgroup_manager` and youki's
/// `CgroupManager` are the shape this follows.
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
    /// Moves `pid` into the cgroup; `bornInside`: clone3 put it in the v2 directory already.
    func attach(_ cgroup: ContainerCgroup, pid: Int32, bornInside: Bool) throws(CgroupError)
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
}

/// The drivers skiff has, by name.
public enum CgroupDrivers {
    public static let available: [String] = [CgroupfsDriver.name, SystemdDriver.name]

    /// The driver that made `cgroup` (from its record): it alone knows how to undo it.
    public static func driver(for cgroup: ContainerCgroup) -> any CgroupDriver {
        cgroup.driver == SystemdDriver.name ? SystemdDriver() : CgroupfsDriver()
    }
}
