import Glibc
import SkiffSpec

/// Where one container's cgroup lives in each hierarchy, decided before anything is made so
/// that the state record can name it first (a `delete --force` after a crash at any point of
/// `create` then knows what to remove).
public struct ContainerCgroup: Sendable, Equatable {
    public struct Directory: Sendable, Equatable {
        /// Absolute path, e.g. `/sys/fs/cgroup/memory/process_api/c495…/skiff-web`.
        public var path: String
        public var version: String
        public var controllers: [String]
    }

    /// The cgroup path relative to each hierarchy's root (`/process_api/c495…/skiff-web`).
    public var relativePath: String
    public var directories: [Directory]

    /// Whether this process may create every directory (rootless without delegation may not):
    /// the nearest existing ancestor of each must be writable.
    public var canBeCreated: Bool {
        directories.allSatisfy { directory in
            var path = directory.path
            while access(path, F_OK) != 0, let slash = path.lastIndex(of: "/"), slash != path.startIndex {
                path = String(path[..<slash])
            }
            return access(path, F_OK) == 0 && (path == directory.path || access(path, W_OK) == 0)
        }
    }

    /// The cgroup `sub` levels below this one in every hierarchy (runc's `exec --cgroup`).
    /// The caller checks `sub` is relative and stays inside.
    public func nested(_ sub: String) -> ContainerCgroup {
        var nested = self
        nested.relativePath += "/" + sub
        for i in nested.directories.indices { nested.directories[i].path += "/" + sub }
        return nested
    }

    /// The v2 directory, for CLONE_INTO_CGROUP.
    public var unifiedDirectory: String? { directories.first { $0.version == "v2" }?.path }

    /// The directory that carries `controller` (`memory` -> the memory hierarchy).
    public func directory(for controller: String) -> Directory? {
        directories.first { $0.version == "v2" && $0.controllers.contains(controller) }
            ?? directories.first { $0.controllers.contains(controller) }
    }

    /// The directory to list processes from: v2 if present (it holds every process), else
    /// the first v1 one.
    public var processDirectory: String? { directories.first?.path }

    /// The rule for `linux.cgroupsPath`:
    /// - absolute (`/kubepods/pod1/ctr`, containerd's `/<namespace>/<id>`): used as given,
    ///   under the root of every hierarchy, where the scheduler reads its stats;
    /// - relative (`group/ctr`) or missing: nested under the cgroup that skiff itself runs
    ///   in, as runc does, so a task never leaves the envelope of whoever started it. A
    ///   missing path becomes `skiff-<id>`.
    public static func plan(cgroupsPath: String?, id: String, system: CgroupSystem) -> ContainerCgroup {
        let given = cgroupsPath ?? ""
        let directories = system.participating().map { hierarchy -> Directory in
            let relative: String
            if given.hasPrefix("/") {
                relative = given
            } else {
                let leaf = given.isEmpty ? "skiff-\(id)" : given
                relative = (hierarchy.ownPath == "/" ? "" : hierarchy.ownPath) + "/" + leaf
            }
            return Directory(path: hierarchy.mountPoint + normalize(relative), version: hierarchy.version.rawValue,
                             controllers: hierarchy.controllers)
        }
        let relative = given.hasPrefix("/") ? normalize(given) : normalize(given.isEmpty ? "skiff-\(id)" : given)
        return ContainerCgroup(relativePath: relative, directories: directories)
    }

    static func normalize(_ path: String) -> String {
        "/" + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }
}

extension ContainerCgroup: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        relativePath = try json.required("relativePath") { key throws(SpecError) in try json.string(key) }
        directories = try json.objects("directories") ?? []
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("relativePath", relativePath)
        json.set("directories", directories)
    }
}

extension ContainerCgroup.Directory: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        path = try json.required("path") { key throws(SpecError) in try json.string(key) }
        version = try json.required("version") { key throws(SpecError) in try json.string(key) }
        controllers = try json.strings("controllers") ?? []
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("path", path)
        json.set("version", version)
        json.set("controllers", controllers)
    }
}
