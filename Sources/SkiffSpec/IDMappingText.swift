// SPDX-License-Identifier: Apache-2.0
extension Array where Element == Spec.IDMapping {
    /// The mappings as `uid_map`/`gid_map` take them: "containerID hostID size" a line (for a
    /// new user namespace, and for the one an idmapped mount is made with).
    public var mapFileText: String {
        map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
    }
}

extension Spec.Device {
    /// The device nodes every container gets, as in runc: made in its /dev (bound from the
    /// host's in a user namespace) and allowed by its device rules.
    public static let standard: [Spec.Device] = [
        ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
    ].map { Spec.Device(type: "c", path: $0.0, major: $0.1, minor: $0.2, fileMode: 0o666, uid: 0, gid: 0) }
}
