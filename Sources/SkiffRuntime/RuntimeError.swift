// SPDX-License-Identifier: Apache-2.0
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
    /// skiff-init reported a failed step in the container's setup (its step, errno and detail).
    case container(SystemError)
    /// skiff-init ended before it reported READY or a failed step (killed, or out of memory).
    case initExited(waitStatus: Int32)
    case usage(String)
    /// The container's record cannot be read (truncated, empty, not JSON).
    case unreadableState(id: String, detail: String)
    /// A hook failed (createRuntime, createContainer, startContainer stop the container).
    case hook(String)
    /// CRIU failed, or cannot work here: its own first error.
    case criu(String)

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
        case .container(let failure):
            // skiff-init's detail says what was being done to what: the errno's text goes last.
            let reason = failure.errno == 0 ? "" : ": \(SystemError.text(of: failure.errno))"
            let detail = failure.detail ?? ""
            return detail.isEmpty ? "\(failure.step)\(reason)" : "\(failure.step): \(detail)\(reason)"
        case .initExited(let status):
            return "skiff-init: exited before the container was ready (wait status \(status))"
        case .usage(let text): return text
        case .unreadableState(let id, let detail):
            return "\(detail) (`delete --force \(id)` removes what can be found of the container)"
        case .hook(let text): return text
        case .criu(let text): return "criu: " + text
        }
    }
}

extension RuntimeError {
    /// `step` failed with `code`.
    static func system(_ step: String, _ code: Int32) -> RuntimeError { .system(SystemError(step, errno: code)) }

    /// Bad network annotations are bad input like any other config field.
    init(_ error: NetworkError) {
        if case .badInput(let specError) = error { self = .spec(specError) } else { self = .network(error) }
    }
}

/// Runs `body`, whose system calls throw `SystemError`, as a step of the runtime.
@discardableResult
func systemStep<T: ~Copyable>(_ body: () throws(SystemError) -> T) throws(RuntimeError) -> T {
    do { return try body() } catch { throw .system(error) }
}
