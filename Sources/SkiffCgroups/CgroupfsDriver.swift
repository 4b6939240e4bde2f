// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec
import SkiffSystem

/// The cgroupfs driver: the container's cgroup is a directory skiff makes in every mounted
/// hierarchy that carries a controller (v2, and on hybrid hosts each v1 hierarchy too), with
/// its limits written into the files of whichever hierarchy carries each controller.
public struct CgroupfsDriver: CgroupDriver {
    public static let name = "cgroupfs"

    /// The host's hierarchies, read when first needed: operations on an existing cgroup use
    /// only its recorded directories, so `kill` and `delete` never read the layout.
    public var system: CgroupSystem { systemReader() }
    private let systemReader: @Sendable () -> CgroupSystem

    public init(system: CgroupSystem) { systemReader = { system } }

    public init() {
        let layout = LazyCgroupSystem()
        systemReader = { layout.value }
    }

    public func plan(cgroupsPath: String?, id: String) throws(SpecError) -> ContainerCgroup {
        try Self.validate(cgroupsPath: cgroupsPath)
        let cgroup = ContainerCgroup.plan(cgroupsPath: cgroupsPath, id: id, system: system)
        try checkPlacement(cgroup)
        return cgroup
    }

    /// Validate `cgroupsPath` before anything touches the filesystem.
    public static func validate(cgroupsPath: String?) throws(SpecError) {
        guard let path = cgroupsPath else { return }
        if path.split(separator: "/").contains("..") {
            throw SpecError("linux.cgroupsPath", "must not contain \"..\", got \"\(path)\"")
        }
        if path.contains(":") {
            throw SpecError("linux.cgroupsPath", "\"\(path)\" is a systemd slice path: use --systemd-cgroup")
        }
    }

    /// What `resources` means on this host (validated, nothing written yet).
    public func plan(_ resources: Spec.Resources) throws(SpecError) -> ResourcePlan {
        try ResourcePlan(resources) { controller in system.hierarchy(for: controller)?.version }
    }

    /// Refuse a cgroup that is not a container's to have: a hierarchy's root, or the cgroup
    /// skiff itself runs in or one of its ancestors (`"."` and `"/"` resolve there). Killing
    /// "the container's processes" there would kill the caller, or every process of the node.
    public func checkPlacement(_ cgroup: ContainerCgroup) throws(SpecError) {
        for directory in cgroup.directories {
            guard let hierarchy = system.participating().first(where: { directory.path.hasPrefix($0.mountPoint) }) else { continue }
            let relative = ContainerCgroup.normalize(String(directory.path.dropFirst(hierarchy.mountPoint.count)))
            let own = ContainerCgroup.normalize(hierarchy.ownPath)
            let name = hierarchy.version == .v2 ? "cgroup v2 hierarchy" : "\(hierarchy.name) hierarchy"
            if relative == "/" {
                throw SpecError("linux.cgroupsPath", "resolves to the root of the \(name): a container cannot have the whole node's cgroup")
            }
            if own == relative || own.hasPrefix(relative + "/") {
                throw SpecError(
                    "linux.cgroupsPath", "resolves to \(relative) in the \(name), which holds skiff's own process: a container cannot have its caller's cgroup")
            }
        }
    }

    /// Decide which controllers to turn on above the container's v2 directory. On a pure v2
    /// host: every available one (as runc and crun do: stats need them). On a hybrid host, where
    /// v2 carries only a few, just those the limits use: an ancestor left with a controller on
    /// cannot take processes any more (EBUSY), which breaks whoever places them there next
    /// (buildah places containers in its own cgroup).
    public func planAncestors(_ cgroup: inout ContainerCgroup, for plan: ResourcePlan) {
        cgroup.enabledControllers = []
        guard let unified = system.unified,
            let directory = cgroup.directories.first(where: { $0.version == .v2 && $0.path.hasPrefix(unified.mountPoint + "/") })
        else { return }
        var wanted: Set<String>
        if system.isPureV2 {
            wanted = Set(unified.controllers)
        } else {
            wanted = Set(
                plan.writes.compactMap { write -> String? in
                    if write.controller == CgroupWrite.unified {
                        return write.candidates.first.map { String($0.file.prefix { $0 != "." }) }
                    }
                    return system.hierarchy(for: write.controller)?.version == .v2 ? write.controller : nil
                })
        }
        guard !wanted.isEmpty else { return }
        var ancestor = unified.mountPoint
        var available = Set(unified.controllers)
        let below = directory.path.dropFirst(unified.mountPoint.count + 1).split(separator: "/").dropLast()
        for component in [Substring("")] + below {
            if !component.isEmpty { ancestor += "/" + component }
            // A directory skiff is about to make enables nothing yet.
            let enabled = CgroupAncestors.enabled(at: ancestor)
            // One with processes of its own (skiff's caller's cgroup, where a missing
            // cgroupsPath nests the container) is left alone: it cannot pass domain controllers
            // down (EBUSY), and a threaded one (cpu, pids) would make it a thread root whose
            // children can take no processes at all (EOPNOTSUPP). The root cgroup is exempt.
            if !component.isEmpty, !(CgroupFiles.read(ancestor + "/cgroup.procs") ?? "").isEmpty {
                available = available.intersection(enabled)
                continue
            }
            for controller in wanted.intersection(available).subtracting(enabled).sorted() {
                cgroup.enabledControllers.append(.init(ancestor: ancestor, controller: controller))
            }
            available = available.intersection(wanted.union(enabled))
        }
    }

    /// Create every directory and write the plan. On failure, the directories it created
    /// are removed again and the ancestors left as they were.
    public func create(_ cgroup: ContainerCgroup, plan: ResourcePlan) throws(CgroupError) {
        var made: [String] = []
        do throws(CgroupError) {
            for directory in cgroup.directories {
                if directory.existed { continue }
                let created: [String]
                if let beside = try Self.makeLeafBesideParent(directory, enabling: cgroup.enabledControllers) {
                    created = beside
                } else if let root = directory.hierarchyRoot {
                    // Under the hierarchy's lock: the parents (marked as skiff's), the controllers
                    // turned on in them (v2), then the leaf.
                    let lock = try CgroupAncestors.Lock(hierarchy: root)
                    let parent = String(directory.path[..<directory.path.lastIndex(of: "/")!])
                    let parents = parent.count > root.count ? try CgroupFiles.makeDirectories(parent) : []
                    made.append(contentsOf: parents)
                    try CgroupAncestors.markMade(parents)
                    if directory.version == .v2 { try CgroupAncestors.enable(cgroup.enabledControllers) }
                    created = parents + (try CgroupFiles.makeDirectories(directory.path))
                    _ = consume lock
                } else {
                    created = try CgroupFiles.makeDirectories(directory.path)
                }
                // Planned as new, found existing: someone else's, made in the meantime.
                if created.last != directory.path {
                    throw CgroupError("creating", path: directory.path, errno: EEXIST, reason: "it appeared while the container was being created")
                }
                made.append(contentsOf: created.filter { !made.contains($0) })
                if directory.version == .v1, directory.controllers.contains("cpuset") {
                    try inheritCpuset(created)
                }
            }
            try CgroupWriter(cgroup: cgroup, system: system).apply(plan)
        } catch {
            for directory in made.reversed() { CgroupPath.removeDirectory(directory) }
            releaseAncestors(of: cgroup)
            throw error
        }
    }

    /// Apply new limits to an existing cgroup (`skiff update`).
    public func update(_ cgroup: ContainerCgroup, plan: ResourcePlan) throws(CgroupError) {
        try CgroupWriter(cgroup: cgroup, system: system).apply(plan)
    }

    /// A new v1 cpuset starts empty (no task may join it): each directory skiff made takes its
    /// parent's CPUs and memory nodes. A parent another create made an instant ago may still be
    /// empty (it fills it after making it): then the values come from the nearest ancestor that
    /// has them, written into the empty ones on the way down (the same values either create
    /// would write).
    private func inheritCpuset(_ created: [String]) throws(CgroupError) {
        for directory in created {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                var emptyAncestors: [String] = []
                var value = ""
                var ancestor = directory
                while value.isEmpty, let slash = ancestor.lastIndex(of: "/"), slash != ancestor.startIndex {
                    ancestor = String(ancestor[..<slash])
                    guard let read = CgroupFiles.read(ancestor + "/" + file) else { break }
                    value = read.trimmingWhitespace
                    if value.isEmpty { emptyAncestors.append(ancestor) }
                }
                // Top down; an ancestor filled by the other create meanwhile is left as it is.
                for path in emptyAncestors.reversed() where CgroupFiles.read(path + "/" + file)?.trimmingWhitespace.isEmpty ?? true {
                    try CgroupFiles.write(value, to: path + "/" + file)
                }
                try CgroupFiles.write(value, to: directory + "/" + file)
            }
        }
    }
}

/// The host's layout, read from /proc once, on first use (a driver may be shared by threads
/// of an embedding scheduler).
final class LazyCgroupSystem: @unchecked Sendable {  // `read` is guarded by `mutex`
    private let mutex: UnsafeMutablePointer<pthread_mutex_t> = .allocate(capacity: 1)
    private var read: CgroupSystem?

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    var value: CgroupSystem {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let read { return read }
        let system = CgroupSystem.current()
        read = system
        return system
    }
}

/// Operations on a container's cgroup once it exists: they need only the recorded
/// directories, so `kill`, `delete` and the failure paths never re-read the host layout.
extension CgroupfsDriver {
    /// Put `pid` into every directory (the v2 one only when clone put it there already).
    public func selfJoinFiles(of cgroup: ContainerCgroup) throws(CgroupError) -> [CgroupJoinFile] {
        try cgroup.directories.filter { $0.version == .v1 }.map { directory throws(CgroupError) in
            let path = directory.path + "/tasks"
            return CgroupJoinFile(path: path, descriptor: SharedDescriptor(try CgroupPath.open(path, O_WRONLY)))
        }
    }

    public func attach(_ cgroup: ContainerCgroup, pid: Int32, bornInside: Bool, joinedItself: Bool) throws(CgroupError) {
        for directory in cgroup.directories {
            if directory.version == .v2 ? bornInside : joinedItself { continue }
            try CgroupFiles.write(String(pid), to: directory.path + "/cgroup.procs")
        }
    }

    public func processes(_ cgroup: ContainerCgroup) -> [Int32] {
        var seen = Set<Int32>()
        for directory in cgroup.directories {
            for path in CgroupFiles.subtree(of: directory.path) {
                for pid in CgroupFiles.pids(in: path) { seen.insert(pid) }
            }
        }
        return seen.sorted()
    }

    /// Signal the container's processes: every one in a cgroup skiff made; in one it did not,
    /// only those `belongs` accepts (the container's pid namespace, or its init).
    public func signal(_ cgroup: ContainerCgroup, _ signal: Int32, belongs: (Int32) -> Bool) {
        for pid in processes(cgroup) where cgroup.isOwned || belongs(pid) { kill(pid, signal) }
    }

    /// Kill the container's processes, wait for them to go, and remove the directories skiff
    /// made (never one that existed before it). Missing directories are fine: delete must be
    /// safe to repeat.
    public func destroy(_ cgroup: ContainerCgroup, belongs: (Int32) -> Bool) throws(CgroupError) {
        // The usual end (the task exited, nothing nested): one rmdir per hierarchy. A cgroup
        // with processes or children refuses (EBUSY) and takes the full path below; one that
        // is gone already (ENOENT) is fine. No reads of cgroup.procs, no listings: each path
        // walk through cgroupfs queues behind other creates' mkdirs.
        var left = cgroup
        if cgroup.isOwned { left.directories.removeAll { CgroupPath.removeDirectory($0.path) == 0 || errno == ENOENT } }
        if !left.directories.isEmpty { try destroyWithProcesses(left, belongs: belongs) }
        releaseAncestors(of: cgroup)
    }

    /// SIGKILL to every process in the cgroup's v2 directory and below, at once (cgroup.kill,
    /// Linux 5.14); the caller makes sure they are gone.
    public func killAll(_ cgroup: ContainerCgroup) {
        guard let unified = cgroup.directories.first(where: { $0.version == .v2 }), CgroupPath.exists(unified.path + "/cgroup.kill") else { return }
        try? CgroupFiles.write("1", to: unified.path + "/cgroup.kill")
    }

    /// Kill what is left in the directories, wait for it to go, remove them (their ancestors
    /// are the caller's to release).
    private func destroyWithProcesses(_ cgroup: ContainerCgroup, belongs: (Int32) -> Bool) throws(CgroupError) {
        let existing = cgroup.directories.filter { CgroupPath.exists($0.path) }
        guard !existing.isEmpty else { return }
        let isOwned = cgroup.isOwned
        // Frozen tasks do not act on SIGKILL (v1) until thawed; a shared cgroup is not ours to thaw.
        if isOwned, isFrozen(cgroup) { try? thaw(cgroup) }
        if isOwned { killAll(cgroup) }
        // SIGKILL is asynchronous: retry until the tasks are gone (a few ms at most).
        var attempt = 0
        while true {
            let remaining = existing.flatMap { CgroupFiles.subtree(of: $0.path) }.flatMap { CgroupFiles.pids(in: $0) }
                .filter { isOwned || belongs($0) }
            if remaining.isEmpty { break }
            for pid in remaining { kill(pid, SIGKILL) }
            attempt += 1
            if attempt > 2000 {
                throw CgroupError("removing", path: existing[0].path, reason: "processes \(remaining) did not die")
            }
            usleep(1000)
        }
        for directory in existing.reversed() where !directory.existed && !cgroup.shared {
            for path in CgroupFiles.subtree(of: directory.path) {
                var tries = 0
                while CgroupPath.removeDirectory(path) != 0 {
                    if errno == ENOENT { break }
                    // EBUSY while the kernel finishes tearing down exited tasks
                    tries += 1
                    if errno != EBUSY || tries > 1000 { throw CgroupError("removing", path: path, errno: errno) }
                    usleep(1000)
                }
            }
        }
    }

    /// Undoes, in each ancestor left without child cgroups, what skiff changed there for this
    /// container or any other (see `CgroupAncestors`): controllers turned off, parents it made
    /// removed.
    func releaseAncestors(of cgroup: ContainerCgroup) {
        for directory in cgroup.directories {
            // A parent skiff neither made nor changed (the hierarchy's root, a scheduler's
            // slice) stays, and so do the ancestors above it: nothing to undo, no lock to take.
            guard let root = directory.hierarchyRoot, CgroupAncestors.isMarked(parentOf: directory.path, below: root),
                let lock = try? CgroupAncestors.Lock(hierarchy: root)
            else { continue }
            CgroupAncestors.release(above: directory.path, root: root)
            _ = consume lock
        }
    }
}

extension CgroupfsDriver {
    /// Where the parent directory exists and nothing is to be turned on above, the leaf
    /// alone, without the hierarchy's lock: a leaf made in a parent keeps a concurrent delete
    /// from removing that parent (rmdir of a cgroup with children is EBUSY; the delete checks
    /// for children under the lock), and v1 ancestors carry no controller marks. On v2 only
    /// directly below the root, which no delete changes. Many creates at once then no longer
    /// queue on one lock per hierarchy. nil when the locked path must make it (controllers to
    /// turn on, a missing parent, or one removed in between: ENOENT).
    static func makeLeafBesideParent(_ directory: ContainerCgroup.Directory, enabling: [ContainerCgroup.EnabledController]) throws(CgroupError) -> [String]? {
        guard let root = directory.hierarchyRoot, let slash = directory.path.lastIndex(of: "/") else { return nil }
        if directory.version != .v1 {
            guard directory.path[..<slash] == root, !enabling.contains(where: { $0.ancestor.hasPrefix(root) }) else { return nil }
        }
        if CgroupPath.makeDirectory(directory.path) == 0 { return [directory.path] }
        switch errno {
        case ENOENT: return nil
        case EEXIST: return []  // someone else's, made since the plan: the caller refuses it
        case let code: throw CgroupError("creating", path: directory.path, errno: code)
        }
    }
}

extension CgroupfsDriver {
    /// `skiff-<id>` under skiff's own cgroup, in each hierarchy where it exists (a name only
    /// skiff gives): every process in it is the container's.
    public func leftover(ofDefault id: String) -> ContainerCgroup? {
        var cgroup = ContainerCgroup.plan(cgroupsPath: nil, id: id, system: system)
        cgroup.directories = cgroup.directories.filter(\.existed)
        for i in cgroup.directories.indices { cgroup.directories[i].existed = false }
        return cgroup.directories.isEmpty ? nil : cgroup
    }

    /// In a new cgroup namespace the v2 hierarchy is mounted afresh (showing the container's
    /// own cgroup as its root); every other hierarchy is the container's own directory
    /// bind-mounted, which shows the same tree (mountinfo renders a cgroup mount's root
    /// relative to the reader's cgroup namespace: `/` for both). A v1 hierarchy is mounted
    /// afresh only where the container has no directory of its own, and never from a user
    /// namespace, which the kernel refuses. Each fresh v1 mount makes the kernel walk every
    /// live cgroup of the v2 hierarchy (`cgroup1_get_tree` drains its offline ones): beside
    /// 1,000 tasks, 4% of all the CPU their creates took. A pure v2 host shows its one
    /// hierarchy; others a tmpfs of them all.
    public func mountView(of cgroup: ContainerCgroup, namespaces: CgroupMountView.Namespaces) -> CgroupMountView {
        let system = self.system
        let mountAfresh = namespaces.newCgroup && (!namespaces.newUser || system.isPureV2)
        func source(_ hierarchy: CgroupHierarchy) -> CgroupMountView.Source? {
            let own = cgroup.directories.first { $0.path.hasPrefix(hierarchy.mountPoint + "/") }.map { CgroupMountView.Source.bind($0.path) }
            guard mountAfresh else { return own }
            if hierarchy.version == .v2 { return .fresh(type: "cgroup2", data: "") }
            return own ?? .fresh(type: "cgroup", data: hierarchy.mountData)
        }
        if system.isPureV2, let unified = system.unified {
            return source(unified).map(CgroupMountView.single) ?? .nodeTreeReadOnly
        }
        return .perHierarchy(
            system.participating().compactMap { hierarchy in
                source(hierarchy).map { .init(name: hierarchy.version == .v2 ? "unified" : hierarchy.name, source: $0) }
            })
    }
}
