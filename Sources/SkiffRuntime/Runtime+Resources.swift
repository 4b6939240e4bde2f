// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffCgroups
import SkiffSpec

/// The operations on a running container's cgroup: pause/resume, update, ps, stats.
extension Runtime {
    /// The record of a container that has a live process (created, running or paused).
    /// `changing`: the action changes the cgroup (freeze, limits), which a cgroup shared with
    /// other processes must not be.
    private func liveRecord(_ id: String, action: String, changing: Bool = false) throws(RuntimeError) -> (ContainerRecord, ContainerCgroup, any CgroupDriver) {
        let record = try createdRecord(id, action: action)
        let status = self.status(of: record, directory: nil)
        guard status == .created || status == .running || status == .paused else {
            throw .wrongState(id: record.id, status: status, action: action)
        }
        let (driver, cgroup) = try Self.ownCgroup(of: record)
        if cgroup.shared, changing {
            throw .usage("cannot \(action) container \"\(record.id)\": it shares the cgroup \(cgroup.relativePath) with processes that are not its own")
        }
        return (record, cgroup, driver)
    }

    /// The record of a container whose `create` has written it, in any status.
    private func createdRecord(_ id: String, action: String) throws(RuntimeError) -> ContainerRecord {
        let id = try ContainerID(id)
        guard let record = try store.read(id) else { throw .wrongState(id: id.value, status: .creating, action: action) }
        return record
    }

    /// The container's cgroup and its driver, for the operations that need a cgroup of its own.
    private static func ownCgroup(of record: ContainerRecord) throws(RuntimeError) -> (any CgroupDriver, ContainerCgroup) {
        let (driver, cgroup) = cgroup(of: record)
        if driver is NoCgroupDriver { throw .usage("container \"\(record.id)\" has no cgroup") }
        return (driver, cgroup)
    }

    public func pause(id: String) throws(RuntimeError) {
        let (record, cgroup, driver) = try liveRecord(id, action: "pause", changing: true)
        if status(of: record, directory: nil) == .paused { throw .wrongState(id: id, status: .paused, action: "pause") }
        do { try driver.freeze(cgroup) } catch { throw .cgroup(error) }
    }

    public func resume(id: String) throws(RuntimeError) {
        let (record, cgroup, driver) = try liveRecord(id, action: "resume", changing: true)
        let status = self.status(of: record, directory: nil)
        guard status == .paused else { throw .wrongState(id: id, status: status, action: "resume") }
        do { try driver.thaw(cgroup) } catch { throw .cgroup(error) }
    }

    /// New limits for a container that is still alive (`skiff update`).
    public func update(id: String, resources: Spec.Resources) throws(RuntimeError) {
        let (_, cgroup, driver) = try liveRecord(id, action: "update", changing: true)
        // Device rules stay as create set them, as under runc: containerd's CRI sends the
        // whole resources back, whose device list alone (deny all, without the standard
        // devices and linux.devices that create allows with it) would take /dev/null away.
        var resources = resources
        resources.devices = nil
        let plan: ResourcePlan
        do {
            // The same rules as config.json: a negative value is refused, not taken as "max".
            try SpecValidator.validate(resources, at: JSONPath("linux.resources"))
            plan = try driver.plan(resources)
        } catch { throw .spec(error) }
        plan.warnings.forEach(warn)
        do { try driver.update(cgroup, plan: plan) } catch { throw .cgroup(error) }
    }

    /// The processes in the container's cgroup. A stopped container lists what is left there
    /// (usually nothing), as runc does: containerd's shim asks of any task. In a cgroup shared
    /// with others, only the container's own are listed once its init is gone.
    public func processes(id: String) throws(RuntimeError) -> [Int32] {
        let record = try createdRecord(id, action: "list the processes of")
        let (driver, cgroup) = try Self.ownCgroup(of: record)
        let pids = driver.processes(cgroup)
        guard cgroup.shared, status(of: record, directory: nil) == .stopped else { return pids }
        return pids.filter(Self.belongs(to: record))
    }

    public func stats(id: String) throws(RuntimeError) -> CgroupStats {
        let (_, cgroup, driver) = try liveRecord(id, action: "read the statistics of")
        return driver.stats(cgroup)
    }

    /// The cgroup of a container in any status (for `events`, which outlives the process).
    public func cgroup(id: String) throws(RuntimeError) -> ContainerCgroup {
        let id = try ContainerID(id)
        guard let cgroup = try store.read(id)?.cgroup else { throw .notFound(id.value) }
        return cgroup
    }
}
