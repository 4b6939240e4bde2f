import Glibc
import SkiffSpec

/// Why a task's network could not be set up or removed: bad input (an annotation, named),
/// or the step that failed with the kernel's errno and, for netlink, the kernel's own words.
public enum NetworkError: Error, CustomStringConvertible, Sendable {
    case annotation(SpecError)
    case system(step: String, errno: Int32, detail: String = "")

    public var description: String {
        switch self {
        case .annotation(let error): return error.description
        case .system(let step, let code, let detail):
            return "network: \(step): \(String(cString: strerror(code)))" + (detail.isEmpty ? "" : " (\(detail))")
        }
    }
}
