// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// What the planner needs to know of the host, gathered once by the runtime before planning
/// (or written out by a test, which then plans for any host without root): the planner itself
/// reads nothing.
struct HostFacts: Sendable, Equatable {
    /// The highest capability the running kernel knows (libcap asks the kernel).
    var lastCapability: Int
    /// skiff's own permitted capabilities (CapPrm of /proc/self/status).
    var heldCapabilities: UInt64
    /// What stat(2) said of each path the config names: namespace paths, bind mount sources
    /// (resolved against the bundle), and device paths.
    var paths: [String: PathFact] = [:]
    /// skiff's own namespaces (`/proc/self/ns/KIND`), for each kind the config joins by path.
    var ownNamespaces: [Spec.NamespaceKind: FileIdentity] = [:]
    /// Whether this kernel stacks LSMs with an AppArmor directory of its own under
    /// /proc/self/attr (else the shared `exec` attribute).
    var appArmorHasOwnAttributes = false
    /// Whether skiff itself runs in a user namespace (rootless podman runs it in its own),
    /// where no device node can be made.
    var inUserNamespace = false
    /// The group ids mapped in skiff's user namespace (`/proc/self/gid_map`), when it runs in one.
    var mappedGroups: [Rootless.Mapping] = []

    /// A file's identity: its device and inode.
    struct FileIdentity: Sendable, Hashable {
        var device: UInt64
        var inode: UInt64
    }

    enum PathFact: Sendable, Equatable {
        case directory(FileIdentity)
        case file(FileIdentity)
        /// stat(2) failed with this errno.
        case unreachable(Int32)

        var error: Int32? { if case .unreachable(let code) = self { code } else { nil } }
        var identity: FileIdentity? {
            switch self {
            case .directory(let identity), .file(let identity): identity
            case .unreachable: nil
            }
        }
    }

    /// The facts a plan for `spec` (its bundle at `bundle`) needs.
    static func gather(for spec: Spec, bundle: String) -> HostFacts {
        var facts = gatherForExec()
        for namespace in spec.linux?.namespaces ?? [] {
            guard let path = namespace.path, let kind = namespace.kind else { continue }
            facts.paths[path] = fact(of: path)
            facts.ownNamespaces[kind] = fact(of: "/proc/self/ns/\(kind.procName)").identity
        }
        for mount in spec.mounts ?? [] {
            guard let source = mount.source, mount.isBind else { continue }
            let path = bindSource(source, bundle: bundle)
            facts.paths[path] = fact(of: path)
        }
        for device in spec.linux?.devices ?? [] { facts.paths[device.path] = fact(of: device.path) }
        return facts
    }

    /// The facts `exec` needs, and every plan starts from: the credentials' limits, the LSM
    /// layout, and the user namespace skiff runs in (the rest is the container's).
    static func gatherForExec() -> HostFacts {
        var facts = HostFacts(lastCapability: Int(skiff_last_capability()), heldCapabilities: heldCapabilities())
        facts.appArmorHasOwnAttributes = access("/proc/self/attr/apparmor/exec", F_OK) == 0
        facts.inUserNamespace = Rootless.inUserNamespace
        if facts.inUserNamespace { facts.mappedGroups = Rootless.gidMappings ?? [] }
        return facts
    }

    /// A bind mount's source on the host: relative ones are the bundle's.
    static func bindSource(_ source: String, bundle: String) -> String {
        source.hasPrefix("/") ? source : bundle + "/" + source
    }

    static func fact(of path: String) -> PathFact {
        var st = stat()
        guard stat(path, &st) == 0 else { return .unreachable(errno) }
        let identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        return (st.st_mode & S_IFMT) == S_IFDIR ? .directory(identity) : .file(identity)
    }

    /// This process's permitted capabilities (CapPrm of /proc/self/status).
    static func heldCapabilities() -> UInt64 {
        let status = String(decoding: (try? readFile("/proc/self/status")) ?? [], as: UTF8.self)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapPrm:") }),
            let value = UInt64(line.dropFirst(7).filter { !$0.isWhitespace }, radix: 16)
        else { return UInt64.max }
        return value
    }
}

extension Spec.NamespaceKind {
    /// The name /proc/PID/ns gives the kind.
    var procName: String {
        switch self {
        case .pid: "pid"
        case .network: "net"
        case .mount: "mnt"
        case .ipc: "ipc"
        case .uts: "uts"
        case .user: "user"
        case .cgroup: "cgroup"
        case .time: "time"
        }
    }
}
