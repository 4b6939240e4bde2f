// SPDX-License-Identifier: Apache-2.0
import SkiffCgroups
import SkiffSpec

/// The OCI statuses, plus `paused` (runc's extension).
public enum ContainerStatus: String, Sendable {
    case creating, created, running, stopped, paused
    /// Only in `list`: the record (state.json) cannot be read; `delete --force` still removes
    /// what can be found from the id.
    case unreadable
}

/// What `state.json` holds: the OCI state, plus what skiff needs to find the container's
/// process, cgroup and files again.
public struct ContainerRecord: Sendable {
    public var ociVersion: String
    public var id: String
    /// As written; the live status is derived by `Runtime.state`.
    public var status: ContainerStatus
    public var pid: Int32
    public var bundle: String
    public var rootfs: String
    public var created: String
    /// The uid that created it (its name is looked up only when shown: NSS is slow).
    public var ownerUID: UInt32
    public var annotations: [String: String]?
    /// skiff's own fields.
    public var cgroup: ContainerCgroup?
    /// The node bridge of the task's own interface (its lease, veth and rules are found
    /// from it), if it has one.
    public var networkBridge: String?
    /// The node's lease directory (`TaskNetwork.leaseDirectory`, named by the node's network
    /// namespace cookie): teardown happens in that namespace and releases the lease there.
    public var networkLeases: String?
    /// The start time (clock ticks since boot, /proc/PID/stat field 22) of `pid`, so a
    /// recycled pid is never mistaken for the container.
    public var pidStartTime: UInt64?
    /// Hooks that run after create has returned (`start`, `delete` are other processes).
    public var poststart: [Spec.Hook]?
    public var poststop: [Spec.Hook]?
    /// The container's pid namespace ("pid:[inode]") when it is not skiff's own: in a cgroup
    /// skiff did not make, the processes in it are the container's, the others are not.
    public var pidNamespace: String?
}

/// The OCI state as `skiff state` prints it (runc's field set).
public struct ContainerState: Sendable, Equatable {
    public var ociVersion: String
    public var id: String
    public var pid: Int32
    public var status: ContainerStatus
    public var bundle: String
    public var rootfs: String
    public var created: String
    public var owner: String
    public var annotations: [String: String]?
}

extension ContainerRecord: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        ociVersion = try json.required("ociVersion") { key throws(SpecError) in try json.string(key) }
        id = try json.required("id") { key throws(SpecError) in try json.string(key) }
        let statusName = try json.required("status") { key throws(SpecError) in try json.string(key) }
        guard let status = ContainerStatus(rawValue: statusName) else { throw SpecError(json.path["status"], "unknown status \"\(statusName)\"") }
        self.status = status
        pid = try json.integer("pid") ?? 0
        bundle = try json.string("bundle") ?? ""
        rootfs = try json.string("rootfs") ?? ""
        created = try json.string("created") ?? ""
        ownerUID = try json.integer("ownerUID") ?? 0
        annotations = try json.stringMap("annotations")
        cgroup = try json.object("cgroup")
        networkBridge = try json.string("networkBridge")
        networkLeases = try json.string("networkLeases")
        pidStartTime = try json.integer("pidStartTime")
        poststart = try json.objects("poststart")
        poststop = try json.objects("poststop")
        pidNamespace = try json.string("pidNamespace")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("ociVersion", ociVersion)
        json.set("id", id)
        json.set("status", status.rawValue)
        json.set("pid", pid)
        json.set("bundle", bundle)
        json.set("rootfs", rootfs)
        json.set("created", created)
        json.set("ownerUID", ownerUID)
        json.set("annotations", annotations)
        json.set("cgroup", cgroup)
        json.set("networkBridge", networkBridge)
        json.set("networkLeases", networkLeases)
        json.set("pidStartTime", pidStartTime)
        json.set("poststart", poststart)
        json.set("poststop", poststop)
        json.set("pidNamespace", pidNamespace)
    }
}

extension ContainerState: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        ociVersion = try json.string("ociVersion") ?? ""
        id = try json.string("id") ?? ""
        pid = try json.integer("pid") ?? 0
        status = ContainerStatus(rawValue: try json.string("status") ?? "") ?? .stopped
        bundle = try json.string("bundle") ?? ""
        rootfs = try json.string("rootfs") ?? ""
        created = try json.string("created") ?? ""
        owner = try json.string("owner") ?? ""
        annotations = try json.stringMap("annotations")
    }

    /// runc's field order: what `runc state` prints, `skiff state` prints.
    public func write(to json: inout JSONObjectWriter) {
        json.set("ociVersion", ociVersion)
        json.set("id", id)
        json.set("pid", pid)
        json.set("status", status.rawValue)
        json.set("bundle", bundle)
        json.set("rootfs", rootfs)
        json.set("created", created)
        json.set("owner", owner)
        json.set("annotations", annotations ?? [:])
    }
}
