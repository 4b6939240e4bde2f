// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec
import SkiffSystem

/// The systemd cgroup driver (`--systemd-cgroup`): the container runs in a transient scope
/// unit that systemd makes through its D-Bus API (`StartTransientUnit`, with `Delegate=yes`),
/// in its slice, with the limits systemd has properties for given as properties and the rest
/// written into the scope's cgroup. What systemd made, systemd removes (`StopUnit`).
///
/// systemd moves a process into a scope it starts, so the scope is made with the container's
/// first process (skiff-init, which runs nothing of the container before its plan arrives):
/// `create` only remembers the plan, and `attach` starts the scope. Every other operation
/// works on the scope's cgroup as cgroupfs does.
public final class SystemdDriver: CgroupDriver, @unchecked Sendable {  // one command's: `pending` set by create, read by attach
    public static let name = "systemd"

    /// What systemd leaves to the files of the cgroup it made (joining, listing, signalling,
    /// freezing, reading, and the last of removing) is cgroupfs's work: done by one.
    private let cgroupfs: CgroupfsDriver
    private var system: CgroupSystem { cgroupfs.system }
    private var pending: ResourcePlan?
    private let user: Bool
    /// One connection to the manager for all a command asks of it (authenticating and
    /// subscribing once; a user's manager on its private socket answered a second
    /// connection's Subscribe only after a long wait).
    private var connection: SystemdManager?
    /// A unit that someone else started between `plan` (which refuses one that exists) and
    /// `attach`: not the container's, so `destroy` (the failed create's undo) leaves it alone.
    private var unitOfOthers: String?

    private func manager() throws(SystemError) -> SystemdManager {
        if let connection { return connection }
        let made = try SystemdManager(user: user)
        connection = made
        return made
    }

    public init(system: CgroupSystem, user: Bool = Rootless.isRootless) {
        cgroupfs = CgroupfsDriver(system: system)
        self.user = user
    }

    public init(user: Bool = Rootless.isRootless) {
        cgroupfs = CgroupfsDriver()
        self.user = user
    }

    /// Whether a systemd manager's socket is there to talk to (for `features`).
    public static func managerReachable(user: Bool) -> Bool {
        let runtime = Rootless.runtimeDirectory
        let paths = user ? [runtime + "/bus", runtime + "/systemd/private"] : ["/run/dbus/system_bus_socket", "/run/systemd/private"]
        return paths.contains { access($0, F_OK) == 0 }
    }

    public func plan(cgroupsPath: String?, id: String) throws(SpecError) -> ContainerCgroup {
        let path = try SystemdPath(cgroupsPath: cgroupsPath, id: id, defaultSlice: user ? "user.slice" : "system.slice")
        guard let unified = system.unified, system.isPureV2 else {
            throw SpecError("--systemd-cgroup", "the systemd cgroup driver needs a pure cgroup v2 host (this one is \(system.layout))")
        }
        // A user's manager keeps its units below its own cgroup (user@UID.service).
        var base = ""
        if user {
            do throws(SystemError) { base = try manager().controlGroup() } catch {
                throw SpecError("--systemd-cgroup", "no systemd manager of uid \(Rootless.nodeUID) to make the scope: \(error)")
            }
            if base == "/" { base = "" }
        }
        let relative = base + path.cgroupPath
        var cgroup = ContainerCgroup(
            relativePath: relative,
            directories: [
                .init(
                    path: unified.mountPoint + relative, version: .v2, controllers: unified.controllers,
                    existed: false, hierarchyRoot: unified.mountPoint)
            ])
        cgroup.driver = Self.name
        cgroup.systemdUnit = path.unit
        cgroup.systemdSlice = path.slice
        if CgroupPath.exists(cgroup.directories[0].path) {
            throw SpecError("linux.cgroupsPath", "unit \(path.unit) exists already")
        }
        return cgroup
    }

    public func plan(_ resources: Spec.Resources) throws(SpecError) -> ResourcePlan {
        try ResourcePlan(resources) { controller in system.hierarchy(for: controller)?.version }
    }

    /// systemd makes the slices and turns on their controllers.
    public func planAncestors(_ cgroup: inout ContainerCgroup, for plan: ResourcePlan) {}

    public func create(_ cgroup: ContainerCgroup, plan: ResourcePlan) throws(CgroupError) {
        // Checked now, before anything is launched: no systemd, one clear line.
        do throws(SystemError) { _ = try manager() } catch { throw CgroupError(error) }
        pending = plan
    }

    /// None: systemd moves the process into the scope in every hierarchy as it makes it (and
    /// an exec's process into a running scope goes by `cgroup.procs`, as it does in any).
    public func selfJoinFiles(of cgroup: ContainerCgroup) throws(CgroupError) -> [CgroupJoinFile] { [] }

    public func attach(_ cgroup: ContainerCgroup, pid: Int32, bornInside: Bool, joinedItself: Bool) throws(CgroupError) {
        guard let unit = cgroup.systemdUnit, let slice = cgroup.systemdSlice else {
            throw CgroupError("attaching to", path: cgroup.relativePath, reason: "no unit recorded")
        }
        // A scope that runs already (exec): a process joins it as in any delegated cgroup.
        if CgroupPath.exists(cgroup.directories[0].path) {
            try cgroupfs.attach(cgroup, pid: pid, bornInside: bornInside, joinedItself: false)
            return
        }
        let plan = pending ?? ResourcePlan()
        let (properties, files) = SystemdProperties.split(plan)
        do throws(SystemError) {
            let manager = try manager()
            let scope = SystemdProperties.scope(slice: slice, pid: pid, description: "skiff container \(cgroup.relativePath)")
            try manager.startTransientUnit(unit, properties: scope + properties + SystemdProperties.devices(plan.devices))
        } catch {
            if error.detail?.hasPrefix("org.freedesktop.systemd1.UnitExists") == true { unitOfOthers = unit }
            throw CgroupError(error)
        }
        var rest = ResourcePlan()
        rest.writes = files
        rest.devices = plan.devices
        try cgroupfs.update(cgroup, plan: rest)
    }

    public func update(_ cgroup: ContainerCgroup, plan: ResourcePlan) throws(CgroupError) {
        let (properties, files) = SystemdProperties.split(plan)
        if let unit = cgroup.systemdUnit, !properties.isEmpty {
            do throws(SystemError) { try manager().setUnitProperties(unit, properties) } catch { throw CgroupError(error) }
        }
        var rest = ResourcePlan()
        rest.writes = files
        rest.devices = plan.devices
        try cgroupfs.update(cgroup, plan: rest)
    }

    public func processes(_ cgroup: ContainerCgroup) -> [Int32] { cgroupfs.processes(cgroup) }
    public func signal(_ cgroup: ContainerCgroup, _ signal: Int32, belongs: (Int32) -> Bool) { cgroupfs.signal(cgroup, signal, belongs: belongs) }
    public func isFrozen(_ cgroup: ContainerCgroup) -> Bool { cgroupfs.isFrozen(cgroup) }
    public func freeze(_ cgroup: ContainerCgroup) throws(CgroupError) { try cgroupfs.freeze(cgroup) }
    public func thaw(_ cgroup: ContainerCgroup) throws(CgroupError) { try cgroupfs.thaw(cgroup) }
    public func stats(_ cgroup: ContainerCgroup) -> CgroupStats { cgroupfs.stats(cgroup) }
    public func mountView(of cgroup: ContainerCgroup, namespaces: CgroupMountView.Namespaces) -> CgroupMountView {
        cgroupfs.mountView(of: cgroup, namespaces: namespaces)
    }

    /// The default unit, `skiff-<id>.scope` in the default slice, if its cgroup is there (a
    /// name only skiff gives): checked on the files, so no manager is asked unless it exists.
    public func leftover(ofDefault id: String) -> ContainerCgroup? {
        guard let unified = system.unified, system.isPureV2,
            let path = try? SystemdPath(cgroupsPath: nil, id: id, defaultSlice: user ? "user.slice" : "system.slice")
        else { return nil }
        // A user's manager keeps its units below its own cgroup; without a record, only the
        // system manager's default place is looked at (rootless leftovers are the user's).
        guard !user, CgroupPath.exists(unified.mountPoint + path.cgroupPath) else { return nil }
        var cgroup = ContainerCgroup(
            relativePath: path.cgroupPath,
            directories: [.init(path: unified.mountPoint + path.cgroupPath, version: .v2, controllers: unified.controllers, hierarchyRoot: unified.mountPoint)])
        cgroup.driver = Self.name
        cgroup.systemdUnit = path.unit
        cgroup.systemdSlice = path.slice
        return cgroup
    }

    /// What is left in the scope killed, the unit stopped (systemd removes the cgroup), then
    /// anything systemd left, as cgroupfs removes it.
    public func destroy(_ cgroup: ContainerCgroup, belongs: (Int32) -> Bool) throws(CgroupError) {
        if let unit = cgroup.systemdUnit, unit == unitOfOthers { return }
        if let unit = cgroup.systemdUnit {
            if cgroupfs.isFrozen(cgroup) { try? cgroupfs.thaw(cgroup) }
            // What is left in the scope dies at once, as delete means: systemd's stop sends
            // SIGTERM and waits (90 s by default) for a task that does not act on it, such as
            // one CRIU left half-restored, every signal blocked, when a restore was killed.
            cgroupfs.killAll(cgroup)
            do throws(SystemError) { try manager().stopUnit(unit) } catch {
                // Without systemd there is no unit left to stop; the cgroup is still cleaned.
                if error.errno != ENOENT { throw CgroupError(error) }
            }
        }
        var left = cgroup
        left.enabledControllers = []
        try cgroupfs.destroy(left, belongs: belongs)
    }
}
