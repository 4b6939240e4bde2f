import Glibc
import SkiffCgroups
import SkiffNetwork
import SkiffSpec
import SkiffSystem

/// Everything the lifecycle can fail with, each printing as one line that names the
/// container, the config field or the step.
public enum RuntimeError: Error, CustomStringConvertible, Sendable {
    case invalidID(String, String)
    case notFound(String)
    case alreadyExists(String)
    case wrongState(id: String, status: ContainerStatus, action: String)
    case spec(SpecError)
    case cgroup(CgroupError)
    case network(NetworkError)
    /// A host-side step failed: what was being done, and errno.
    case system(SystemError)
    /// skiff-init reported a failed step in the container's setup.
    case container(step: String, errno: Int32, detail: String)
    case usage(String)
    /// The container's record cannot be read (truncated, empty, not JSON).
    case unreadableState(id: String, detail: String)
    /// A hook failed (createRuntime, createContainer, startContainer stop the container).
    case hook(String)

    public var description: String {
        switch self {
        case .invalidID(let id, let why): return "invalid container id \"\(id)\": \(why)"
        case .notFound(let id): return "container \"\(id)\" does not exist"
        case .alreadyExists(let id): return "container \"\(id)\" already exists"
        case .wrongState(let id, let status, let action) where status == .stopped:
            // runc's words: containerd's shims match "container not running" to treat a kill
            // that came too late as done (a stopped pod's containers are killed twice).
            return "cannot \(action) container \"\(id)\": container not running (it is stopped)"
        case .wrongState(let id, let status, let action):
            return "cannot \(action) container \"\(id)\": it is \(status.rawValue)"
        case .spec(let error): return error.description
        case .cgroup(let error): return "cgroup: \(error)"
        case .network(let error): return error.description
        case .system(let error): return error.description
        case .container(let step, let code, let detail):
            let reason = code == 0 ? "" : ": \(String(cString: strerror(code)))"
            return detail.isEmpty ? "\(step)\(reason)" : "\(step): \(detail)\(reason)"
        case .usage(let text): return text
        case .unreadableState(let id, let detail):
            return "\(detail) (`delete --force \(id)` removes what can be found of the container)"
        case .hook(let text): return text
        }
    }
}

extension RuntimeError {
    /// `step` failed with `code`.
    static func system(_ step: String, _ code: Int32) -> RuntimeError { .system(SystemError(step, errno: code)) }

    /// Bad network annotations are bad input like any other config field.
    init(_ error: NetworkError) {
        if case .annotation(let specError) = error { self = .spec(specError) } else { self = .network(error) }
    }
}

/// Checks a syscall-style result (-1 and errno) and turns failure into `.system`.
@discardableResult
func check<T: BinaryInteger>(_ result: T, _ step: @autoclosure () -> String) throws(RuntimeError) -> T {
    if result < 0 { throw RuntimeError.system(step(), errno) }
    return result
}
