// SPDX-License-Identifier: Apache-2.0
import SkiffSpec
import SkiffSystem

/// Why a filter could not be made: the config's profile (a field to fix), or the host (a
/// descriptor or file the filter could not be stored in).
public enum SeccompError: Error, Sendable, CustomStringConvertible {
    case config(SpecError)
    case system(SystemError)

    public var description: String {
        switch self {
        case .config(let error): error.description
        case .system(let error): error.description
        }
    }
}
