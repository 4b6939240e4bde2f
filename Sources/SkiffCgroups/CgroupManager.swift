import Glibc
import SkiffSpec

/// Makes, fills, empties and removes a container's cgroup in every hierarchy it joins.
public struct CgroupManager: Sendable {
    public var system: CgroupSystem

    public init(system: CgroupSystem = .current()) { self.system = system }

    public func plan(cgroupsPath: String?, id: String) -> ContainerCgroup {
        ContainerCgroup.plan(cgroupsPath: cgroupsPath, id: id, system: system)
    }

    /// Validate `cgroupsPath` before anything touches the filesystem.
    public static func validate(cgroupsPath: String?) throws(SpecError) {
        guard let path = cgroupsPath else { return }
        if path.split(separator: "/").contains("..") {
            throw SpecError("linux.cgroupsPath", "must not contain \"..\", got \"\(path)\"")
        }
        if path.contains(":") {
            throw SpecError("linux.cgroupsPath", "\"\(path)\" is a systemd slice path; the systemd cgroup driver is not supported yet")
        }
    }

    /// What `resources` means on this host (validated, nothing written yet).
    public func plan(_ resources: Spec.Resources) throws(SpecError) -> ResourcePlan {
        try ResourcePlan(resources) { controller in system.hierarchy(for: controller)?.version }
    }

    /// Create every directory and write the plan. On failure, the directories it created
    /// are removed again.
    public func create(_ cgroup: ContainerCgroup, plan: ResourcePlan?) throws(CgroupError) {
        var made: [String] = []
        do {
            for directory in cgroup.directories {
                let created = try CgroupFiles.makeDirectories(directory.path)
                made.append(contentsOf: created)
                if directory.version == "v2" { try enableControllers(above: directory.path) }
                if directory.version == "v1", directory.controllers.contains("cpuset") {
                    try inheritCpuset(created)
                }
            }
            if let plan { try CgroupWriter(cgroup: cgroup, system: system).apply(plan) }
        } catch {
            for directory in made.reversed() { rmdir(directory) }
            throw error
        }
    }

    /// Apply new limits to an existing cgroup (`skiff update`).
    public func update(_ cgroup: ContainerCgroup, plan: ResourcePlan) throws(CgroupError) {
        try CgroupWriter(cgroup: cgroup, system: system).apply(plan)
    }

    /// On v2 a controller works in a cgroup only if every ancestor enables it in
    /// `cgroup.subtree_control`: enable each available one from the root down to the parent.
    private func enableControllers(above path: String) throws(CgroupError) {
        guard let unified = system.unified, path.hasPrefix(unified.mountPoint + "/") else { return }
        var ancestor = unified.mountPoint
        let below = path.dropFirst(unified.mountPoint.count + 1).split(separator: "/").dropLast()
        for component in [Substring("")] + below {
            if !component.isEmpty { ancestor += "/" + component }
            let available = Set((CgroupFiles.read(ancestor + "/cgroup.controllers") ?? "").split(whereSeparator: \.isWhitespace))
            let enabled = Set((CgroupFiles.read(ancestor + "/cgroup.subtree_control") ?? "").split(whereSeparator: \.isWhitespace))
            let missing = available.subtracting(enabled).sorted()
            guard !missing.isEmpty else { continue }
            do {
                try CgroupFiles.write(missing.map { "+" + $0 }.joined(separator: " "), to: ancestor + "/cgroup.subtree_control")
            } catch {
                // A cgroup with processes of its own cannot enable controllers for children
                // (EBUSY): the limits that need them will say so when written.
                if error.errno != EBUSY { throw error }
            }
        }
    }

    /// A new v1 cpuset starts with no CPUs and no memory nodes: copy the parent's.
    private func inheritCpuset(_ created: [String]) throws(CgroupError) {
        for directory in created {
            let parent = String(directory[..<directory.lastIndex(of: "/")!])
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let value = CgroupFiles.read(parent + "/" + file)?.trimmingWhitespace ?? ""
                try CgroupFiles.write(value, to: directory + "/" + file)
            }
        }
    }
}

/// Operations on a container's cgroup once it exists: they need only the recorded
/// directories, so `kill`, `delete` and the failure paths never re-read the host layout.
extension ContainerCgroup {
    /// Put `pid` into every directory (the v2 one only when clone did not already).
    public func attach(pid: Int32, skipUnified: Bool) throws(CgroupError) {
        for directory in directories where !(skipUnified && directory.version == "v2") {
            try CgroupFiles.write(String(pid), to: directory.path + "/cgroup.procs")
        }
    }

    public func pids() -> [Int32] {
        var seen = Set<Int32>()
        for directory in directories {
            for path in CgroupFiles.subtree(of: directory.path) {
                for pid in CgroupFiles.pids(in: path) { seen.insert(pid) }
            }
        }
        return seen.sorted()
    }

    public func signal(_ signal: Int32) {
        for pid in pids() { kill(pid, signal) }
    }

    /// Kill whatever is left, wait for the cgroups to empty, and remove them. Missing
    /// directories are fine: delete must be safe to repeat.
    public func destroy() throws(CgroupError) {
        let existing = directories.filter { access($0.path, F_OK) == 0 }
        guard !existing.isEmpty else { return }
        // Frozen tasks do not act on SIGKILL (v1) until thawed.
        if isFrozen { try? thaw() }
        if let unified = existing.first(where: { $0.version == "v2" }),
           access(unified.path + "/cgroup.kill", F_OK) == 0 {
            try? CgroupFiles.write("1", to: unified.path + "/cgroup.kill")
        }
        // SIGKILL is asynchronous: retry until the tasks are gone (a few ms at most).
        var attempt = 0
        while true {
            let remaining = existing.flatMap { CgroupFiles.subtree(of: $0.path) }.flatMap { CgroupFiles.pids(in: $0) }
            if remaining.isEmpty { break }
            for pid in remaining { kill(pid, SIGKILL) }
            attempt += 1
            if attempt > 2000 {
                throw CgroupError("removing", path: existing[0].path, reason: "processes \(remaining) did not die")
            }
            usleep(1000)
        }
        for path in existing.reversed().flatMap({ CgroupFiles.subtree(of: $0.path) }) {
            var tries = 0
            while rmdir(path) != 0 {
                if errno == ENOENT { break }
                // EBUSY while the kernel finishes tearing down exited tasks
                tries += 1
                if errno != EBUSY || tries > 1000 { throw CgroupError("removing", path: path, errno: errno) }
                usleep(1000)
            }
        }
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
