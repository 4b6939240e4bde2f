// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec
import SkiffSystem

/// One mounted cgroup hierarchy and where skiff itself sits in it.
public struct CgroupHierarchy: Sendable, Equatable {
    public enum Version: String, Sendable { case v1, v2 }

    public var version: Version
    /// Where the hierarchy is mounted, e.g. `/sys/fs/cgroup/memory`.
    public var mountPoint: String
    /// The controllers it carries (`memory`; for v2 the root's `cgroup.controllers`).
    public var controllers: [String]
    /// The v1 mount data that mounts this hierarchy again (`memory`, `name=systemd`).
    public var mountData: String
    /// The cgroup this process is in, relative to the hierarchy (`/process_api/c495…`).
    public var ownPath: String

    public init(version: Version, mountPoint: String, controllers: [String], mountData: String = "", ownPath: String = "/") {
        self.version = version
        self.mountPoint = mountPoint
        self.controllers = controllers
        self.mountData = mountData
        self.ownPath = ownPath
    }

    /// The name a container sees it under in `/sys/fs/cgroup` (`memory`, `cpu,cpuacct`).
    public var name: String { String(mountPoint.split(separator: "/").last ?? "unified") }
}

/// The cgroup hierarchies of this host, read from `/proc/self/mountinfo` and
/// `/proc/self/cgroup`. On a pure v2 host there is one (found without mountinfo when it is
/// mounted at /sys/fs/cgroup); on a hybrid host such as a Debian 12 machine with systemd's
/// legacy layout, each v1 controller has its own and the v2 hierarchy may carry few or no
/// controllers.
public struct CgroupSystem: Sendable {
    public var hierarchies: [CgroupHierarchy]

    public init(hierarchies: [CgroupHierarchy]) { self.hierarchies = hierarchies }

    /// Controllers skiff places tasks under on v1 (named hierarchies like name=systemd are
    /// left alone: they carry no limits).
    static let v1Controllers: Set<String> = [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb",
        "net_cls", "net_prio", "perf_event", "rdma", "misc",
    ]

    public static func current() -> CgroupSystem {
        let own = ownCgroups(CgroupFiles.read("/proc/self/cgroup") ?? "")
        if let ownPath = unifiedOnly(own: own, isUnifiedMount: CgroupPath.baseIsUnifiedMount, holds: CgroupPath.exists) {
            return CgroupSystem(hierarchies: [unified(at: CgroupPath.base, ownPath: ownPath)])
        }
        var result: [CgroupHierarchy] = []
        let mountinfo = (try? readFile("/proc/self/mountinfo")) ?? []
        // Byte-level: mountinfo has a line per mount and skiff reads it on every create.
        for line in mountinfo.split(separator: UInt8(ascii: "\n")) {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            guard let dash = separatorIndex(in: line) else { continue }
            let left = line[..<dash].split(separator: UInt8(ascii: " "))
            let right = line[(dash + 3)...].split(separator: UInt8(ascii: " "))
            guard left.count >= 5, right.count >= 3, right[0].starts(with: "cgroup".utf8) else { continue }
            // A bind mount of part of a hierarchy (root != "/") is not the hierarchy itself.
            guard left[3].elementsEqual("/".utf8) else { continue }
            let fstype = String(decoding: right[0], as: UTF8.self)
            let mountPoint = unescape(String(decoding: left[4], as: UTF8.self))
            if fstype == "cgroup2" {
                result.append(unified(at: mountPoint, ownPath: own[""] ?? "/"))
            } else if fstype == "cgroup" {
                let options = right[2].split(separator: UInt8(ascii: ",")).map { String(decoding: $0, as: UTF8.self) }
                let controllers = options.filter { v1Controllers.contains($0) }
                let named = options.filter { $0.hasPrefix("name=") }
                guard !controllers.isEmpty || !named.isEmpty else { continue }
                let key = (controllers + named).sorted().joined(separator: ",")
                result.append(
                    CgroupHierarchy(
                        version: .v1, mountPoint: mountPoint, controllers: controllers,
                        mountData: (controllers + named).joined(separator: ","),
                        ownPath: own[key] ?? "/"))
            }
        }
        return CgroupSystem(hierarchies: result)
    }

    /// The v2 hierarchy mounted at `mountPoint`, with the controllers its root offers.
    private static func unified(at mountPoint: String, ownPath: String) -> CgroupHierarchy {
        let controllers = (CgroupFiles.read(mountPoint + "/cgroup.controllers") ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        return CgroupHierarchy(version: .v2, mountPoint: mountPoint, controllers: controllers, ownPath: ownPath)
    }

    /// A pure v2 host's one hierarchy without reading mountinfo, as runc and crun find it (one
    /// `statfs`): mountinfo has a line for every mount of the node (a thousand containers'
    /// root file systems on a busy one) and is read under the lock every mount and unmount
    /// takes. Only when `/proc/self/cgroup` names no v1 hierarchy (`own` holds its `0::` line
    /// alone), /sys/fs/cgroup is a cgroup2 mount of its own, and this process's cgroup lies
    /// below it: a bind mount of part of the hierarchy, which mountinfo tells apart by its
    /// root, fails that last test. Our cgroup's path below the mount, or nil: mountinfo decides.
    static func unifiedOnly(own: [String: String], isUnifiedMount: @autoclosure () -> Bool, holds: (String) -> Bool) -> String? {
        guard own.count == 1, let ownPath = own[""], ownPath.hasPrefix("/"), isUnifiedMount() else { return nil }
        return ownPath == "/" || holds(CgroupPath.base + ownPath) ? ownPath : nil
    }

    /// Where " - " separates a mountinfo line's optional fields from the filesystem type.
    private static func separatorIndex(in line: ArraySlice<UInt8>) -> Int? {
        var i = line.startIndex
        while i + 2 < line.endIndex {
            if line[i] == 0x20, line[i + 1] == UInt8(ascii: "-"), line[i + 2] == 0x20 { return i }
            i += 1
        }
        return nil
    }

    /// `/proc/self/cgroup` as "sorted controller list" -> path ("" for v2).
    static func ownCgroups(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let key = fields[1].split(separator: ",").map(String.init).sorted().joined(separator: ",")
            result[key] = String(fields[2])
        }
        return result
    }

    static func unescape(_ path: String) -> String {
        // mountinfo escapes space, tab, newline and backslash as \ooo
        guard path.contains("\\") else { return path }
        var out = "", chars = Array(path), i = 0
        while i < chars.count {
            if chars[i] == "\\", i + 3 < chars.count + 0, let code = UInt8(String(chars[(i + 1)...(i + 3)]), radix: 8) {
                out.append(Character(Unicode.Scalar(code)))
                i += 4
            } else {
                out.append(chars[i])
                i += 1
            }
        }
        return out
    }

    /// One line saying which hierarchy carries which controllers, e.g.
    /// "hybrid: v1 for cpu, memory, pids; v2 at /sys/fs/cgroup/unified for hugetlb".
    public var layout: String {
        let v1Controllers = v1.flatMap(\.controllers).sorted()
        let v2Part = unified.map { "v2 at \($0.mountPoint)" + ($0.controllers.isEmpty ? " (no controllers)" : " for \($0.controllers.sorted().joined(separator: ", "))") }
        switch (v1Controllers.isEmpty, v2Part) {
        case (true, let v2?): return "cgroup v2 (unified): " + v2
        case (false, let v2?): return "cgroup hybrid: v1 for \(v1Controllers.joined(separator: ", ")); " + v2
        case (false, nil): return "cgroup v1 for \(v1Controllers.joined(separator: ", "))"
        case (true, nil): return "no cgroup hierarchy mounted"
        }
    }

    public var unified: CgroupHierarchy? { hierarchies.first { $0.version == .v2 } }
    public var v1: [CgroupHierarchy] { hierarchies.filter { $0.version == .v1 } }

    /// True when every controller lives in one v2 hierarchy (no v1 hierarchies carry any).
    public var isPureV2: Bool { unified != nil && !v1.contains { !$0.controllers.isEmpty } }

    /// The hierarchy that enforces `controller`: v2 if it carries it, else its v1 hierarchy.
    public func hierarchy(for controller: String) -> CgroupHierarchy? {
        if let unified, unified.controllers.contains(controller) { return unified }
        return v1.first { $0.controllers.contains(controller) }
    }

    /// The hierarchies a container joins: the v2 one (if mounted) and every v1 hierarchy
    /// with a controller, each with the container's directory in it.
    public func participating() -> [CgroupHierarchy] {
        hierarchies.filter { $0.version == .v2 || !$0.controllers.isEmpty }
    }
}
