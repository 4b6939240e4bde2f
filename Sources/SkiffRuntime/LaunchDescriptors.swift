// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// A descriptor the launch plan needs, named by what it is: the planner decides which, and
/// `LaunchDescriptors` opens them once the container's id is claimed.
enum DescriptorRequest: Sendable, Equatable, CustomStringConvertible {
    /// A namespace joined by path; `field` names it in errors (`linux.namespaces[2].path`).
    case namespace(path: String, field: String)
    /// A user namespace with these maps, for an idmapped bind mount (`mounts[3]`).
    case idmappedUserNamespace(uidMap: String, gidMap: String, field: String)
    /// The compiled seccomp filter.
    case seccompFilter
    /// The socket the pty's master goes over.
    case console
    /// The exec fifo `start` writes into.
    case execFifo
    /// The node's netlink socket and the file of the task's rules (see `TaskRulesChannel`).
    case rulesSocket, rulesBatch
    /// A pidfd of the container's init, whose namespaces `exec` joins.
    case containerPidfd

    var description: String {
        switch self {
        case .namespace(let path, _): "namespace \(path)"
        case .idmappedUserNamespace(let uidMap, let gidMap, _):
            "user namespace uid_map \"\(uidMap.replacingNewlines)\" gid_map \"\(gidMap.replacingNewlines)\""
        case .seccompFilter: "seccomp filter"
        case .console: "console socket"
        case .execFifo: "exec fifo"
        case .rulesSocket: "rules socket"
        case .rulesBatch: "rules batch"
        case .containerPidfd: "container pidfd"
        }
    }
}

/// The one owner of a launch's descriptors: it opens what the plan asks for (namespace files,
/// the idmapped mounts' user namespaces, the exec fifo) and takes the rest from their owners
/// (`Supplied`), and closes what it opened when it goes, on every path.
final class LaunchDescriptors {
    /// Descriptors other owners hold for the launch's duration.
    struct Supplied {
        var seccompFilter: Int32?
        var console: Int32?
        var rules: (socket: Int32, batch: Int32)?
        var containerPidfd: Int32?
        /// Where the exec fifo is made.
        var execFifoPath: String?
    }

    /// The plan's descriptor table, index for index.
    private(set) var table: [Int32] = []
    private var opened: [SharedDescriptor] = []

    init(_ requests: [DescriptorRequest], supplied: Supplied) throws(RuntimeError) {
        for request in requests { table.append(try open(request, supplied: supplied)) }
    }

    private func own(_ descriptor: consuming FileDescriptor) -> Int32 {
        let shared = SharedDescriptor(descriptor)
        opened.append(shared)
        return shared.rawValue
    }

    private func open(_ request: DescriptorRequest, supplied: Supplied) throws(RuntimeError) -> Int32 {
        func missing() -> RuntimeError { .usage("the launch plan asks for the \(request), which nobody supplied") }
        switch request {
        case .namespace(let path, let field):
            do { return own(try FileDescriptor(opening: path, O_RDONLY, step: path)) } catch { throw .spec(SpecError(field, error.description)) }
        case .idmappedUserNamespace(let uidMap, let gidMap, let field):
            do {
                return own(try FileDescriptor(checking: skiff_userns_fd(uidMap, gidMap), step: "creating the user namespace to idmap with"))
            } catch { throw .spec(SpecError(field, error.description)) }
        case .execFifo:
            guard let path = supplied.execFifoPath else { throw missing() }
            do throws(SystemError) {
                try checked(mkfifo(path, 0o600), "creating \(path)")
                // Read-write, so the init's read blocks until `start` writes (never EOF).
                return own(try FileDescriptor(opening: path, O_RDWR, step: "opening \(path)"))
            } catch { throw .system(error) }
        case .seccompFilter:
            guard let fd = supplied.seccompFilter else { throw missing() }
            return fd
        case .console:
            guard let fd = supplied.console else { throw missing() }
            return fd
        case .rulesSocket, .rulesBatch:
            guard let rules = supplied.rules else { throw missing() }
            return request == .rulesSocket ? rules.socket : rules.batch
        case .containerPidfd:
            guard let fd = supplied.containerPidfd else { throw missing() }
            return fd
        }
    }
}

extension String {
    fileprivate var replacingNewlines: String { split(separator: "\n").joined(separator: "; ") }
}
