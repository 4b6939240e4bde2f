// SPDX-License-Identifier: Apache-2.0
import Glibc

/// Who skiff runs as, seen from outside any user namespace it is in. Rootless podman runs its
/// runtime in a user namespace of its own where the euid is 0: root there, an ordinary user
/// to the node (its cgroups, its systemd manager, its runtime directory). runc draws the same
/// line (`shouldHonorXDGRuntimeDir`, `shouldUseRootlessCgroupManager`).
public enum Rootless {
    /// The uid the node knows this process by: the euid through `/proc/self/uid_map` (the
    /// euid itself outside any user namespace, or where the map cannot be read).
    public static var nodeUID: uid_t {
        let euid = geteuid()
        guard let map = uidMap else { return euid }
        for line in map.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).compactMap { UInt64($0) }
            guard fields.count == 3, UInt64(euid) >= fields[0], UInt64(euid) - fields[0] < fields[2] else { continue }
            return uid_t(truncatingIfNeeded: fields[1] + UInt64(euid) - fields[0])
        }
        return euid
    }

    /// Whether this process is in a user namespace other than the node's (whose map is the
    /// whole range onto itself).
    public static var inUserNamespace: Bool {
        guard let map = uidMap else { return false }
        return map.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) } != [["0", "0", "4294967295"]]
    }

    /// Not the node's root: an ordinary user, or root only inside a user namespace.
    public static var isRootless: Bool { geteuid() != 0 || nodeUID != 0 }

    private static var uidMap: String? { (try? readFile("/proc/self/uid_map")).map { String(decoding: $0, as: UTF8.self) } }

    /// The user's runtime directory: `$XDG_RUNTIME_DIR`, else `/run/user/<node uid>`.
    public static var runtimeDirectory: String {
        if let directory = getenv("XDG_RUNTIME_DIR"), directory.pointee != 0 { return String(cString: directory) }
        return "/run/user/\(nodeUID)"
    }
}
