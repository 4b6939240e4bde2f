// SPDX-License-Identifier: Apache-2.0
import Glibc

/// Who skiff runs as, seen from outside any user namespace it is in. Rootless podman runs its
/// runtime in a user namespace of its own where the euid is 0: root there, an ordinary user
/// to the node (its cgroups, its systemd manager, its runtime directory). runc draws the same
/// line (`shouldHonorXDGRuntimeDir`, `shouldUseRootlessCgroupManager`).
public enum Rootless {
    /// One line of a `uid_map` or `gid_map`: ids `inside..<inside + count` of this process's
    /// user namespace are `outside...` in its parent's.
    public struct Mapping: Equatable, Sendable {
        public var inside: UInt64
        public var outside: UInt64
        public var count: UInt64

        public func contains(_ id: UInt64) -> Bool { id >= inside && id - inside < count }
    }

    /// This process's maps, read once: a process never changes its user namespace (skiff
    /// joins none). nil where they cannot be read.
    public static let uidMappings = mappings("/proc/self/uid_map")
    public static let gidMappings = mappings("/proc/self/gid_map")

    static func mappings(_ path: String) -> [Mapping]? {
        guard let bytes = try? readFile(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").compactMap { UInt64($0) }
            return fields.count == 3 && fields[2] > 0 ? Mapping(inside: fields[0], outside: fields[1], count: fields[2]) : nil
        }
    }

    /// The uid the node knows this process by: the euid through its uid map (the euid itself
    /// outside any user namespace, or where the map cannot be read).
    public static var nodeUID: uid_t {
        let euid = UInt64(geteuid())
        guard let mapping = uidMappings?.first(where: { $0.contains(euid) }) else { return uid_t(euid) }
        return uid_t(truncatingIfNeeded: mapping.outside + euid - mapping.inside)
    }

    /// Whether this process is in a user namespace other than the node's (whose map is the
    /// whole range onto itself).
    public static var inUserNamespace: Bool {
        guard let uidMappings else { return false }
        return uidMappings != [Mapping(inside: 0, outside: 0, count: 4_294_967_295)]
    }

    /// Not the node's root: an ordinary user, or root only inside a user namespace.
    public static var isRootless: Bool { geteuid() != 0 || nodeUID != 0 }

    /// The user's runtime directory: `$XDG_RUNTIME_DIR`, else `/run/user/<node uid>`.
    public static var runtimeDirectory: String {
        if let directory = getenv("XDG_RUNTIME_DIR"), directory.pointee != 0 { return String(cString: directory) }
        return "/run/user/\(nodeUID)"
    }
}
