// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec

/// Where one container's cgroup lives in each hierarchy, decided before anything is made so
/// that the state record can name it first (a `delete --force` after a crash at any point of
/// `create` then knows what to remove).
public struct ContainerCgroup: Sendable, Equatable {
    public struct Directory: Sendable, Equatable {
        /// Absolute path, e.g. `/sys/fs/cgroup/memory/process_api/c495…/skiff-web`.
        public var path: String
        public var version: CgroupHierarchy.Version
        public var controllers: [String]
        /// The directory was there before skiff planned the container: it is not skiff's to
        /// remove, and only the container's own processes in it are skiff's to kill.
        public var existed = false
        /// Where its hierarchy is mounted (the ancestors above the directory stop there).
        public var hierarchyRoot: String?

        public init(path: String, version: CgroupHierarchy.Version, controllers: [String], existed: Bool = false, hierarchyRoot: String? = nil) {
            self.path = path
            self.version = version
            self.controllers = controllers
            self.existed = existed
            self.hierarchyRoot = hierarchyRoot
        }
    }

    /// Controllers skiff turns on in an ancestor's `cgroup.subtree_control` (v2) for this
    /// container, decided before anything is written so the record names them: delete turns
    /// each off again once the ancestor has no child cgroups left (see `CgroupfsDriver.planAncestors`).
    public var enabledControllers: [EnabledController] = []

    public struct EnabledController: Sendable, Equatable {
        public var ancestor: String
        public var controller: String
    }

    /// The cgroup existed with processes in it when the container was created: the container
    /// joined it (with a warning, as runc does), so skiff neither limits, freezes, kills nor
    /// removes anything in it but the container's own processes.
    public var shared = false

    /// Whether skiff made every directory (and so may kill all in them and remove them).
    public var isOwned: Bool { !directories.contains { $0.existed } && !shared }

    /// The driver that made it (`CgroupDriver.name`): every later command uses the same one.
    public var driver = CgroupfsDriver.name
    /// The systemd driver's scope (or slice) unit and its slice.
    public var systemdUnit: String?
    public var systemdSlice: String?
    /// The cgroup path relative to each hierarchy's root (`/process_api/c495…/skiff-web`).
    public var relativePath: String
    public var directories: [Directory]

    public init(relativePath: String, directories: [Directory]) {
        self.relativePath = relativePath
        self.directories = directories
    }

    /// Whether this process may create every directory (rootless without delegation may not):
    /// the nearest existing ancestor of each must be writable.
    public var canBeCreated: Bool {
        directories.allSatisfy { directory in
            var path = directory.path
            while !CgroupPath.exists(path), let slash = path.lastIndex(of: "/"), slash != path.startIndex {
                path = String(path[..<slash])
            }
            return CgroupPath.exists(path) && (path == directory.path || CgroupPath.isWritable(path))
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
    public var unifiedDirectory: String? { directories.first { $0.version == .v2 }?.path }

    /// The directory that carries `controller` (`memory` -> the memory hierarchy).
    public func directory(for controller: String) -> Directory? {
        directories.first { $0.version == .v2 && $0.controllers.contains(controller) }
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
            return Directory(
                path: hierarchy.mountPoint + normalize(relative), version: hierarchy.version,
                controllers: hierarchy.controllers, hierarchyRoot: hierarchy.mountPoint)
        }
        let relative = given.hasPrefix("/") ? normalize(given) : normalize(given.isEmpty ? "skiff-\(id)" : given)
        var cgroup = ContainerCgroup(relativePath: relative, directories: directories)
        for i in cgroup.directories.indices { cgroup.directories[i].existed = CgroupPath.exists(cgroup.directories[i].path) }
        return cgroup
    }

    static func normalize(_ path: String) -> String {
        "/" + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }
}

extension ContainerCgroup: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        driver = try json.string("driver") ?? CgroupfsDriver.name
        systemdUnit = try json.string("systemdUnit")
        systemdSlice = try json.string("systemdSlice")
        relativePath = try json.required("relativePath") { key throws(SpecError) in try json.string(key) }
        directories = try json.objects("directories") ?? []
        enabledControllers = try json.objects("enabledControllers") ?? []
        shared = try json.bool("shared") ?? false
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("driver", driver)
        json.set("systemdUnit", systemdUnit)
        json.set("systemdSlice", systemdSlice)
        json.set("relativePath", relativePath)
        json.set("directories", directories)
        if !enabledControllers.isEmpty { json.set("enabledControllers", enabledControllers) }
        if shared { json.set("shared", true) }
    }
}

extension ContainerCgroup.Directory: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        path = try json.required("path") { key throws(SpecError) in try json.string(key) }
        let version = try json.required("version") { key throws(SpecError) in try json.string(key) }
        guard let known = CgroupHierarchy.Version(rawValue: version) else {
            throw SpecError("cgroup.directories.version", "\"\(version)\" is neither v1 nor v2")
        }
        self.version = known
        controllers = try json.strings("controllers") ?? []
        existed = try json.bool("existed") ?? false
        hierarchyRoot = try json.string("hierarchyRoot")
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("path", path)
        json.set("version", version.rawValue)
        json.set("controllers", controllers)
        if existed { json.set("existed", true) }
        json.set("hierarchyRoot", hierarchyRoot)
    }
}

extension ContainerCgroup.EnabledController: JSONObjectConvertible {
    public init(json: JSONObject) throws(SpecError) {
        ancestor = try json.required("ancestor") { key throws(SpecError) in try json.string(key) }
        controller = try json.required("controller") { key throws(SpecError) in try json.string(key) }
    }

    public func write(to json: inout JSONObjectWriter) {
        json.set("ancestor", ancestor)
        json.set("controller", controller)
    }
}
