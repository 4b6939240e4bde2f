// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec
import SkiffSystem

/// Why a task's network could not be set up or removed: bad input (an annotation or a config
/// field, named), or the step that failed with the kernel's errno and, for netlink, the
/// kernel's own words.
public enum NetworkError: Error, CustomStringConvertible, Sendable {
    case badInput(SpecError)
    case system(SystemError)

    /// `step` failed with `errno`; `detail` is the kernel's own words (netlink) or a hint.
    static func system(step: String, errno: Int32, detail: String = "") -> NetworkError {
        .system(SystemError(step, errno: errno, detail: detail))
    }

    /// The errno of a failed step (nil for bad input).
    var errno: Int32? { if case .system(let error) = self { error.errno } else { nil } }

    public var description: String {
        switch self {
        case .badInput(let error): return error.description
        case .system(let error): return "network: \(error)"
        }
    }
}
