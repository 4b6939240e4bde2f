// SPDX-License-Identifier: Apache-2.0
import SkiffSpec

/// A CNI error result: the spec's well-known code, a message and details, printed as JSON on
/// stdout with a non-zero exit (CNI spec 1.0, "Error").
public struct CNIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The spec's codes (1–11) and the plugin's own (100 and up).
    public enum Code: Int, Sendable {
        case incompatibleVersion = 1
        case unsupportedField = 2
        case unknownContainer = 3
        case invalidEnvironment = 4
        case ioFailure = 5
        case decodingFailure = 6
        case invalidNetworkConfig = 7
        case tryAgainLater = 11
        /// The node's network refused or failed (netlink, nf_tables, the leases).
        case networkFailure = 100
    }

    public var code: Code
    public var message: String
    public var details: String

    public init(_ code: Code, _ message: String, details: String = "") {
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { details.isEmpty ? message : "\(message): \(details)" }

    /// The error as the spec writes it, for the version the runtime asked for.
    public func json(version: String) -> JSONValue {
        var members: [(String, JSONValue)] = [("cniVersion", .string(version)), ("code", .number(String(code.rawValue))), ("msg", .string(message))]
        if !details.isEmpty { members.append(("details", .string(details))) }
        return .object(members)
    }
}
