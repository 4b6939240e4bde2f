// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec
import SkiffSystem

/// Small, checked file operations on cgroupfs.
enum CgroupFiles {
    static func read(_ path: String) -> String? {
        let (directory, relative) = CgroupPath.resolve(path)
        return (try? readFile(relative, relativeTo: directory)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func write(_ value: String, to path: String) throws(CgroupError) {
        try write([value], to: path)
    }

    /// Each value with a write of its own, through one descriptor (a v1 device list: one rule
    /// per write, one path walk through cgroupfs for all of them).
    static func write(_ values: [String], to path: String) throws(CgroupError) {
        let file = try CgroupPath.open(path, O_WRONLY)
        for value in values {
            let n = value.withCString { Glibc.write(file.rawValue, $0, strlen($0)) }
            guard n >= 0 else { throw CgroupError("writing \"\(value)\" to", path: path, errno: errno) }
        }
    }

    /// mkdir -p (see SkiffSystem's `makeDirectories`), as a cgroup error.
    static func makeDirectories(_ path: String) throws(CgroupError) -> [String] {
        let (directory, relative) = CgroupPath.resolve(path)
        do throws(SystemError) {
            return try SkiffSystem.makeDirectories(relative, relativeTo: directory).map { CgroupPath.absolute($0, from: directory) }
        } catch { throw CgroupError(error) }
    }

    /// `directory` and every cgroup nested under it, children before their parent: the
    /// order rmdir needs. A payload or an `exec --cgroup` may have made sub-cgroups.
    static func subtree(of directory: String) -> [String] {
        children(of: directory).flatMap { subtree(of: directory + "/" + $0) } + [directory]
    }

    /// Whether `directory` has a cgroup below it.
    static func hasChildCgroups(_ directory: String) -> Bool {
        !children(of: directory).isEmpty
    }

    /// The names of the cgroups directly below `directory`.
    static func children(of directory: String) -> [String] {
        let (base, relative) = CgroupPath.resolve(directory)
        return listDirectory(relative, directoriesOnly: true, relativeTo: base)
    }

    static func pids(in directory: String) -> [Int32] {
        (read(directory + "/cgroup.procs") ?? "").split(separator: "\n").compactMap { Int32($0) }
    }
}
