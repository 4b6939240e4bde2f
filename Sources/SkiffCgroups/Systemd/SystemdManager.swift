// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSystem

/// systemd's manager over D-Bus: the calls the systemd cgroup driver needs, each waited for
/// until its job is done (the JobRemoved signal), as runc and crun do.
public final class SystemdManager {
    let bus: DBusConnection
    static let service = "org.freedesktop.systemd1"
    static let path = "/org/freedesktop/systemd1"
    static let interface = "org.freedesktop.systemd1.Manager"

    /// The system manager (root: the system bus, or systemd's private socket when there is no
    /// bus daemon), or the calling user's (`user`: its bus in $XDG_RUNTIME_DIR).
    public init(user: Bool = Rootless.isRootless) throws(SystemError) {
        let environment = user ? "DBUS_SESSION_BUS_ADDRESS" : "DBUS_SYSTEM_BUS_ADDRESS"
        var candidates: [(String, Bool)] = []
        if let address = getenv(environment).map({ String(cString: $0) }), let path = Self.unixPath(address) { candidates.append((path, false)) }
        if user {
            let runtime = Rootless.runtimeDirectory
            candidates += [(runtime + "/bus", false), (runtime + "/systemd/private", true)]
        } else {
            candidates += [("/run/dbus/system_bus_socket", false), ("/run/systemd/private", true)]
        }
        bus = try Self.connect(candidates)
        try subscribe()
    }

    private static func connect(_ candidates: [(path: String, peerToPeer: Bool)]) throws(SystemError) -> DBusConnection {
        var failure = SystemError("finding systemd", errno: ENOENT, detail: "no bus at \(candidates.map(\.path).joined(separator: " or "))")
        for (path, peer) in candidates where access(path, F_OK) == 0 {
            do throws(SystemError) { return try DBusConnection(path: path, peerToPeer: peer) } catch { failure = error }
        }
        throw failure
    }

    /// `unix:path=/run/dbus/system_bus_socket,guid=…` → the path.
    static func unixPath(_ address: String) -> String? {
        for part in address.split(separator: ";") where part.hasPrefix("unix:") {
            for pair in part.dropFirst(5).split(separator: ",") where pair.hasPrefix("path=") { return String(pair.dropFirst(5)) }
        }
        return nil
    }

    /// Job signals reach a client that subscribed (and, on a bus, asked for them).
    private func subscribe() throws(SystemError) {
        if !bus.peerToPeer {
            try bus.call(
                destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "AddMatch",
                [.string("type='signal',sender='\(Self.service)',path='\(Self.path)',interface='\(Self.interface)',member='JobRemoved'")])
        }
        try call("Subscribe")
    }

    @discardableResult
    private func call(_ member: String, _ arguments: [DBusValue] = []) throws(SystemError) -> DBusMessage {
        try bus.call(destination: Self.service, path: Self.path, interface: Self.interface, member: member, arguments)
    }

    /// Runs the job a call started to its end; anything but "done" is a failure.
    private func awaitJob(of reply: DBusMessage, step: String) throws(SystemError) {
        guard case .objectPath(let job)? = reply.bodyValues.first else { return }
        let removed = try bus.waitForSignal(step: step) { signal in
            signal.member == "JobRemoved" && signal.bodyValues.count >= 2 && signal.bodyValues[1] == .objectPath(job)
        }
        if removed.bodyValues.count >= 4, case .string(let result) = removed.bodyValues[3], result != "done" {
            throw SystemError(step, errno: EIO, detail: "the job ended \"\(result)\"")
        }
    }

    /// Starts the transient unit `name` with `properties` and waits for it to run.
    public func startTransientUnit(_ name: String, properties: [(String, DBusValue)]) throws(SystemError) {
        let reply = try call("StartTransientUnit", [.string(name), .string("replace"), .properties(properties), .auxiliaryUnits])
        try awaitJob(of: reply, step: "starting \(name)")
    }

    /// Stops `name` and waits for it; a unit that is not there is fine (delete is repeatable).
    public func stopUnit(_ name: String) throws(SystemError) {
        let reply: DBusMessage
        do throws(SystemError) { reply = try call("StopUnit", [.string(name), .string("replace")]) } catch {
            if error.detail?.hasPrefix("org.freedesktop.systemd1.NoSuchUnit") == true { return }
            throw error
        }
        try awaitJob(of: reply, step: "stopping \(name)")
        // A unit that failed stays loaded in the failed state; it is ours to forget.
        _ = try? call("ResetFailedUnit", [.string(name)])
    }

    /// The manager's own cgroup (its `ControlGroup` property): a user's manager runs its units
    /// below `user@UID.service`, not at the hierarchy's root.
    public func controlGroup() throws(SystemError) -> String {
        let reply = try bus.call(
            destination: Self.service, path: Self.path, interface: "org.freedesktop.DBus.Properties", member: "Get",
            [.string(Self.interface), .string("ControlGroup")])
        guard case .string(let path)? = reply.bodyValues.first else { throw SystemError("reading the manager's ControlGroup", errno: EPROTO) }
        return path
    }

    /// New properties for a running unit (`update`), for this boot only.
    public func setUnitProperties(_ name: String, _ properties: [(String, DBusValue)]) throws(SystemError) {
        try call("SetUnitProperties", [.string(name), .bool(true), .properties(properties)])
    }
}
