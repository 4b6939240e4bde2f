// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// What skiff changes above a container's cgroup, and undoes: the parent directories it makes
/// (`/default` of `/default/<id>`), and the controllers it turns on in a v2 ancestor's
/// `cgroup.subtree_control`. Each ancestor skiff changed says so in extended attributes of its
/// own (`trusted.skiff.made`, `trusted.skiff.controllers`), so whichever skiff deletes the last
/// container below it (from any state root, even one that did not make the change) leaves it
/// as it was found: controllers off, a directory skiff made removed. Every change happens
/// under an exclusive `flock` on the hierarchy's root, so a create never adds a child between
/// a delete's "no children left" and what it then undoes.
enum CgroupAncestors {
    static let attribute = "trusted.skiff.controllers"
    static let madeAttribute = "trusted.skiff.made"

    /// An exclusive flock on the hierarchy's root, held while it lives.
    struct Lock: ~Copyable {
        private let lock: FileLock

        init(hierarchy root: String) throws(CgroupError) {
            let directory = try CgroupPath.open(root, O_RDONLY | O_DIRECTORY)
            do { lock = try FileLock(directory, .exclusive, step: "locking \(root)") } catch { throw CgroupError(error) }
        }
    }

    /// Turns on `entries` (root first) and marks each ancestor with what skiff turned on.
    /// One that is on by now (another container's create) is left unmarked: it is not ours.
    static func enable(_ entries: [ContainerCgroup.EnabledController]) throws(CgroupError) {
        for entry in entries {
            let control = entry.ancestor + "/cgroup.subtree_control"
            if enabled(at: entry.ancestor).contains(entry.controller) { continue }
            // Best effort, as in runc (a cgroup that gained processes since the plan refuses
            // with EBUSY): a limit that needs a missing controller fails when written, naming
            // its file; one that only feeds stats is simply absent.
            guard (try? CgroupFiles.write("+" + entry.controller, to: control)) != nil else { continue }
            let marked = Set(marks(at: entry.ancestor)).union([entry.controller]).sorted()
            if setMarks(marked, at: entry.ancestor) != 0 {
                // Unmarked, it would never be turned off: undo it rather than leave it.
                let code = errno
                try? CgroupFiles.write("-" + entry.controller, to: control)
                throw CgroupError("marking", path: entry.ancestor, errno: code, reason: "cannot record the controllers skiff turned on (\(attribute))")
            }
        }
    }

    /// Marks `directories` (parents skiff just made) as skiff's to remove.
    static func markMade(_ directories: [String]) throws(CgroupError) {
        for directory in directories where CgroupPath.withDirectory(directory, { fsetxattr($0, madeAttribute, "1", 1, 0) }) != 0 {
            throw CgroupError("marking", path: directory, errno: errno, reason: "cannot record that skiff made it (\(madeAttribute))")
        }
    }

    /// Walks up from `directory`'s parent to `root`: each ancestor left without child cgroups
    /// gets the controllers skiff marked on it turned off, and is removed if skiff made it.
    /// Stops at the first ancestor that stays (its own ancestors then still have a child).
    static func release(above directory: String, root: String) {
        var ancestor = directory
        while ancestor.count > root.count, let slash = ancestor.lastIndex(of: "/") {
            ancestor = String(ancestor[..<slash])
            guard ancestor.hasPrefix(root) else { return }
            // Gone already (a create that failed before making it): nothing to undo there.
            if !CgroupPath.exists(ancestor) { continue }
            if CgroupFiles.hasChildCgroups(ancestor) { return }
            let controllers = marks(at: ancestor)
            for controller in controllers {
                try? CgroupFiles.write("-" + controller, to: ancestor + "/cgroup.subtree_control")
            }
            if !controllers.isEmpty { _ = CgroupPath.withDirectory(ancestor) { fremovexattr($0, attribute) } }
            guard ancestor.count > root.count, isMade(ancestor), CgroupPath.removeDirectory(ancestor) == 0 else { return }
        }
    }

    /// Whether the parent of `directory` (below the hierarchy's `root`) carries a mark of
    /// skiff's: made by it, or with controllers it turned on.
    static func isMarked(parentOf directory: String, below root: String) -> Bool {
        guard let slash = directory.lastIndex(of: "/") else { return false }
        let parent = String(directory[..<slash])
        guard parent.count > root.count else { return false }
        return isMade(parent) || !marks(at: parent).isEmpty
    }

    private static func isMade(_ directory: String) -> Bool {
        CgroupPath.withDirectory(directory) { fgetxattr($0, madeAttribute, nil, 0) > 0 } ?? false
    }

    static func enabled(at ancestor: String) -> Set<String> {
        Set((CgroupFiles.read(ancestor + "/cgroup.subtree_control") ?? "").split(whereSeparator: \.isWhitespace).map(String.init))
    }

    static func marks(at ancestor: String) -> [String] {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = CgroupPath.withDirectory(ancestor) { fgetxattr($0, attribute, &buffer, buffer.count) } ?? -1
        guard n > 0 else { return [] }
        return String(decoding: buffer[..<n], as: UTF8.self).split(separator: " ").map(String.init)
    }

    private static func setMarks(_ controllers: [String], at ancestor: String) -> Int32 {
        let value = Array(controllers.joined(separator: " ").utf8)
        return CgroupPath.withDirectory(ancestor) { fsetxattr($0, attribute, value, value.count, 0) } ?? -1
    }
}
