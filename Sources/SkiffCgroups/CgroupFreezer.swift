// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSystem

/// pause/resume: the v1 freezer where that controller lives on v1, else `cgroup.freeze`.
extension CgroupfsDriver {
    private enum Freezer {
        case v1(String)  // the freezer directory
        case v2(String)  // the v2 directory
    }

    private func freezer(of cgroup: ContainerCgroup) -> Freezer? {
        if let directory = cgroup.directory(for: "freezer"), directory.version == .v1 { return .v1(directory.path) }
        if let unified = cgroup.unifiedDirectory, CgroupPath.exists(unified + "/cgroup.freeze") { return .v2(unified) }
        return nil
    }

    public func isFrozen(_ cgroup: ContainerCgroup) -> Bool {
        switch freezer(of: cgroup) {
        case .v1(let path): return (CgroupFiles.read(path + "/freezer.state") ?? "").trimmingWhitespace == "FROZEN"
        case .v2(let path): return (CgroupFiles.read(path + "/cgroup.freeze") ?? "").trimmingWhitespace == "1"
        case nil: return false
        }
    }

    /// Freeze every process and wait until the kernel reports them frozen.
    public func freeze(_ cgroup: ContainerCgroup) throws(CgroupError) { try setFrozen(cgroup, true) }

    public func thaw(_ cgroup: ContainerCgroup) throws(CgroupError) { try setFrozen(cgroup, false) }

    private func setFrozen(_ cgroup: ContainerCgroup, _ frozen: Bool) throws(CgroupError) {
        switch freezer(of: cgroup) {
        case .v1(let path):
            for _ in 0..<1000 {
                try CgroupFiles.write(frozen ? "FROZEN" : "THAWED", to: path + "/freezer.state")
                let state = (CgroupFiles.read(path + "/freezer.state") ?? "").trimmingWhitespace
                if state == (frozen ? "FROZEN" : "THAWED") { return }
                usleep(1000)  // FREEZING: tasks in the middle of something; ask again
            }
            throw CgroupError(frozen ? "freezing" : "thawing", path: path, reason: "the freezer did not settle")
        case .v2(let path):
            try CgroupFiles.write(frozen ? "1" : "0", to: path + "/cgroup.freeze")
            for _ in 0..<1000 {
                let events = CgroupFiles.read(path + "/cgroup.events") ?? ""
                if events.contains(frozen ? "frozen 1" : "frozen 0") { return }
                usleep(1000)
            }
            throw CgroupError(frozen ? "freezing" : "thawing", path: path, reason: "cgroup.events never reported it")
        case nil:
            throw CgroupError(
                frozen ? "freezing" : "thawing", path: cgroup.processDirectory ?? "the container",
                reason: "no freezer on this host (neither a v1 freezer nor cgroup.freeze)")
        }
    }
}
