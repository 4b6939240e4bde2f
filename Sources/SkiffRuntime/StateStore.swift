// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// `--root`: one directory per container holding `state.json` and the exec fifo. The
/// directory is the container's lock (`flock`); `state.json` is replaced atomically.
public struct StateStore: Sendable {
    /// runc's rule, with skiff's name: /run/skiff for the node's root; for other users
    /// $XDG_RUNTIME_DIR/skiff, else /tmp/skiff-<uid>; for root inside a user namespace
    /// (rootless podman runs its runtime so) $XDG_RUNTIME_DIR/skiff unless `USER` is root.
    public static var defaultRoot: String {
        let uid = geteuid()
        let runtime = getenv("XDG_RUNTIME_DIR").flatMap { $0.pointee == 0 ? nil : String(cString: $0) }
        if uid != 0 { return runtime.map { $0 + "/skiff" } ?? "/tmp/skiff-\(uid)" }
        guard Rootless.inUserNamespace, let runtime, getenv("USER").map({ String(cString: $0) }) != "root" else { return "/run/skiff" }
        return runtime + "/skiff"
    }
    public let root: String

    public init(root: String? = nil) { self.root = root ?? StateStore.defaultRoot }

    func path(of id: ContainerID) -> String { root + "/" + id.value }

    private func ensureRoot() throws(RuntimeError) {
        do throws(SystemError) { _ = try makeDirectories(root, mode: 0o711) } catch {
            throw .system(SystemError("creating the state directory: \(error.step)", errno: error.errno))
        }
    }

    /// Refuses an id in use before anything is planned for it (its cgroup would otherwise be
    /// planned as one to join, with a warning); `claim` is what makes it certain.
    func refuseExisting(_ id: ContainerID) throws(RuntimeError) {
        if access(path(of: id), F_OK) == 0 { throw .alreadyExists(id.value) }
    }

    /// Make the container's directory, atomically and already locked: it is built under a
    /// private name and renamed into place with RENAME_NOREPLACE, so of two `create`s of
    /// one id exactly one wins, and nobody ever sees it unlocked and empty.
    func claim(_ id: ContainerID) throws(RuntimeError) -> ContainerDirectory {
        try ensureRoot()
        let staging = "\(root)/.new-\(id.value)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        if mkdir(staging, 0o711) != 0 { throw .system("creating \(staging)", errno) }
        do throws(SystemError) {
            let lock = try FileLock(path: staging, flags: O_RDONLY | O_DIRECTORY, mode: .exclusive, step: "locking \(staging)")
            if skiff_rename_noreplace(AT_FDCWD, staging, AT_FDCWD, path(of: id)) != 0 {
                throw SystemError("creating \(path(of: id))", errno: errno)
            }
            return ContainerDirectory(id: id, path: path(of: id), lock: lock)
        } catch {
            rmdir(staging)
            throw error.errno == EEXIST || error.errno == ENOTEMPTY ? .alreadyExists(id.value) : .system(error)
        }
    }

    /// Open an existing container's directory and take its lock (waits for the holder).
    func lock(_ id: ContainerID) throws(RuntimeError) -> ContainerDirectory {
        let lock: FileLock
        do { lock = try FileLock(path: path(of: id), flags: O_RDONLY | O_DIRECTORY, mode: .exclusive, step: "locking \(path(of: id))") } catch {
            throw error.errno == ENOENT ? .notFound(id.value) : .system(error)
        }
        // Deleted while we waited for the lock?
        var st = stat()
        if fstat(lock.rawValue, &st) == 0, st.st_nlink == 0 { throw .notFound(id.value) }
        return ContainerDirectory(id: id, path: path(of: id), lock: lock)
    }

    /// The record as last written; nil while `create` has claimed the id but not yet written.
    func read(_ id: ContainerID) throws(RuntimeError) -> ContainerRecord? {
        let file = path(of: id) + "/state.json"
        guard let bytes = try? readFile(file) else {
            if access(path(of: id), F_OK) != 0 { throw .notFound(id.value) }
            return nil
        }
        let record: ContainerRecord
        do {
            record = try ContainerRecord(jsonValue: try JSONValue.parse(bytes))
        } catch let error as SpecError {
            throw .unreadableState(id: id.value, detail: "\(file): unreadable state: \(error)")
        } catch let error as JSONSyntaxError {
            throw .unreadableState(id: id.value, detail: "\(file): unreadable state: line \(error.line), column \(error.column): \(error.message)")
        } catch {
            throw .unreadableState(id: id.value, detail: "\(file): unreadable state: \(error)")
        }
        // A record under another id's directory is not this container's.
        guard record.id == id.value else {
            throw .unreadableState(id: id.value, detail: "\(file): unreadable state: it is the record of \"\(record.id)\"")
        }
        return record
    }

    /// A `create` killed between making its private directory and renaming it into place
    /// leaves `.new-<id>-<pid>-<n>` behind: remove those whose creator is gone.
    func removeAbandonedClaims(of id: ContainerID) {
        let prefix = ".new-\(id.value)-"
        for name in listDirectory(root) {
            guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count).split(separator: "-").first ?? "") else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { rmdir(root + "/" + name) }
        }
    }

    func list() -> [ContainerID] {
        listDirectory(root).filter { !$0.hasPrefix(".") }.compactMap { try? ContainerID($0) }.sorted { $0.value < $1.value }
    }
}

/// A locked container directory. The lock is held until `unlock` or until this goes (or the
/// process exits).
final class ContainerDirectory {
    let id: ContainerID
    let path: String
    private var lock: FileLock?

    init(id: ContainerID, path: String, lock: consuming FileLock) {
        self.id = id
        self.path = path
        self.lock = .some(lock)
    }

    /// The directory's descriptor while it is locked (-1 after `unlock`).
    private var fd: Int32 {
        switch lock {
        case .some(let held): held.rawValue
        case .none: -1
        }
    }

    /// Close the directory, and with it the lock.
    func unlock() { lock = nil }

    var fifoPath: String { path + "/exec.fifo" }

    /// Replace `state.json` atomically (write a temporary file, then rename over).
    func write(_ record: ContainerRecord) throws(RuntimeError) {
        do throws(SystemError) {
            try writeAtomically(record.jsonValue.serializedBytes(), to: "state.json", inDirectory: fd, mode: 0o600)
        } catch {
            throw .system(SystemError("\(error.step) in \(path)", errno: error.errno))
        }
    }

    /// Remove the directory and everything in it; the lock goes with the descriptor.
    func remove() throws(RuntimeError) {
        // (A directory: a restore's CRIU root, never mounted in the node's namespace.)
        for name in listDirectory(path) where unlinkat(fd, name, 0) != 0 && errno != ENOENT && !(errno == EISDIR && unlinkat(fd, name, AT_REMOVEDIR) == 0) {
            throw .system("removing \(path)/\(name)", errno)
        }
        if rmdir(path) != 0 && errno != ENOENT { throw .system("removing \(path)", errno) }
        unlock()
    }
}

/// Write a file atomically (temporary + rename), for pid files.
func writeAtomically(_ text: String, to path: String) throws(RuntimeError) {
    do throws(SystemError) { try writeAtomically(Array(text.utf8), to: path) } catch { throw .system(error) }
}
