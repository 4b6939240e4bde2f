// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSystem

/// Paths under /sys/fs/cgroup resolved from one descriptor of that directory, opened once per
/// process: a path walk from / passes through sysfs (`/sys/fs`), whose lookups wait on sysfs's
/// lock whenever another task's network namespace is being made (its devices' sysfs entries),
/// and many starts at once make many. Elsewhere (a hierarchy mounted somewhere else, a
/// descriptor that could not be opened), the absolute path as given.
enum CgroupPath {
    static let base = "/sys/fs/cgroup"
    /// Held for the process's life (an embedding scheduler's too: one descriptor, once).
    private static let baseDirectory: SharedDescriptor? = {
        guard let directory = try? FileDescriptor(opening: base, O_RDONLY | O_DIRECTORY, step: base) else { return nil }
        return SharedDescriptor(directory)
    }()

    /// The directory descriptor and path to hand an *at(2) call for `path`.
    static func resolve(_ path: String) -> (directory: Int32, path: String) {
        guard let baseDirectory, path.hasPrefix(base + "/") else { return (AT_FDCWD, path) }
        return (baseDirectory.rawValue, String(path.dropFirst(base.count + 1)))
    }

    /// The absolute path of a path `resolve` gave, relative to `directory`.
    static func absolute(_ path: String, from directory: Int32) -> String {
        directory == AT_FDCWD ? path : base + "/" + path
    }

    static func open(_ path: String, _ flags: Int32) throws(CgroupError) -> FileDescriptor {
        let (directory, relative) = resolve(path)
        let fd = openat(directory, relative, flags | O_CLOEXEC)
        guard fd >= 0 else { throw CgroupError("opening", path: path, errno: errno) }
        return FileDescriptor(adopting: fd)
    }

    /// Whether /sys/fs/cgroup is a cgroup2 file system mounted right there: not a tmpfs of v1
    /// hierarchies, not a directory inside some other mount.
    static var baseIsUnifiedMount: Bool { baseDirectory.map { isUnifiedMountRoot($0.rawValue) } ?? false }

    /// Whether the directory open as `directory` is the root of a cgroup2 mount (a child
    /// cgroup of one is not).
    static func isUnifiedMountRoot(_ directory: Int32) -> Bool { skiff_is_cgroup2_mount_root(directory) == 1 }

    static func exists(_ path: String) -> Bool {
        let (directory, relative) = resolve(path)
        return faccessat(directory, relative, F_OK, 0) == 0
    }

    static func isWritable(_ path: String) -> Bool {
        let (directory, relative) = resolve(path)
        return faccessat(directory, relative, W_OK, 0) == 0
    }

    @discardableResult
    static func makeDirectory(_ path: String, _ mode: mode_t = 0o755) -> Int32 {
        let (directory, relative) = resolve(path)
        return mkdirat(directory, relative, mode)
    }

    /// `body`'s result on a descriptor of the directory `path`, for the calls that have no *at
    /// form (its extended attributes); nil when it cannot be opened (errno says why).
    static func withDirectory<Result>(_ path: String, _ body: (Int32) -> Result) -> Result? {
        guard let directory = try? open(path, O_RDONLY | O_DIRECTORY) else { return nil }
        return body(directory.rawValue)
    }

    @discardableResult
    static func removeDirectory(_ path: String) -> Int32 {
        let (directory, relative) = resolve(path)
        return unlinkat(directory, relative, AT_REMOVEDIR)
    }
}
