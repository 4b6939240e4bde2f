import SkiffCgroups

/// The OCI statuses, plus `paused` (runc's extension).
public enum ContainerStatus: String, Codable, Sendable {
    case creating, created, running, stopped, paused
}

/// What `state.json` holds: the OCI state, plus what skiff needs to find the container's
/// process, cgroup and files again.
public struct ContainerRecord: Codable, Sendable {
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
    /// The start time (clock ticks since boot, /proc/PID/stat field 22) of `pid`, so a
    /// recycled pid is never mistaken for the container.
    public var pidStartTime: UInt64?
}

/// The OCI state as `skiff state` prints it (runc's field set).
public struct ContainerState: Codable, Sendable, Equatable {
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
