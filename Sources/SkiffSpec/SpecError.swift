// SPDX-License-Identifier: Apache-2.0
/// A problem with a `config.json`, located by its JSON path
/// (`linux.namespaces[2].type: unknown namespace "netz"`).
public struct SpecError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Where the problem is: a JSON path such as `process.args`, or `config.json` for the
    /// file as a whole.
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Builds JSON paths the way users read them: `linux.namespaces[2].type`.
public struct JSONPath: Sendable {
    public private(set) var text: String

    public init(_ text: String = "") { self.text = text }

    public func key(_ name: String) -> JSONPath { JSONPath(text.isEmpty ? name : "\(text).\(name)") }
    public func index(_ i: Int) -> JSONPath { JSONPath("\(text)[\(i)]") }
    public subscript(name: String) -> String { key(name).text }
    public subscript(i: Int) -> String { index(i).text }
}
