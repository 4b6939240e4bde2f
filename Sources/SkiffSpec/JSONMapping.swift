// SPDX-License-Identifier: Apache-2.0
/// A type read from and written to a JSON object, field by field.
public protocol JSONObjectConvertible {
    init(json: JSONObject) throws(SpecError)
    func write(to json: inout JSONObjectWriter)
}

extension JSONObjectConvertible {
    /// Decode from a whole document (`path` names it in errors).
    public init(jsonValue: JSONValue, path: JSONPath = JSONPath()) throws(SpecError) {
        try self.init(json: JSONObject(jsonValue, at: path))
    }

    public var jsonValue: JSONValue {
        var writer = JSONObjectWriter()
        write(to: &writer)
        return .object(writer.members)
    }
}

/// An object being read, with its JSON path for errors. A `null` member reads as missing.
public struct JSONObject {
    public let path: JSONPath
    private let members: [(String, JSONValue)]

    public init(_ value: JSONValue, at path: JSONPath) throws(SpecError) {
        guard case .object(let members) = value else { throw SpecError(path.text.orDocument, "expected an object, found \(value.kind)") }
        self.members = members
        self.path = path
    }

    /// The member, or nil when missing or null (the last one wins if repeated, as in Go).
    public func value(_ key: String) -> JSONValue? {
        guard let value = members.last(where: { $0.0 == key })?.1, value != .null else { return nil }
        return value
    }

    public func required<T>(_ key: String, _ read: (String) throws(SpecError) -> T?) throws(SpecError) -> T {
        guard let value = try read(key) else { throw SpecError(path[key], "missing") }
        return value
    }

    public func string(_ key: String) throws(SpecError) -> String? {
        try value(key).map { v throws(SpecError) in try v.string(at: path.key(key)) }
    }

    public func bool(_ key: String) throws(SpecError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let b) = value else { throw SpecError(path[key], "expected true or false, found \(value.kind)") }
        return b
    }

    public func integer<T: FixedWidthInteger>(_ key: String, as type: T.Type = T.self) throws(SpecError) -> T? {
        try value(key).map { v throws(SpecError) in try v.integer(at: path.key(key), as: T.self) }
    }

    public func strings(_ key: String) throws(SpecError) -> [String]? {
        try array(key) { v, p throws(SpecError) in try v.string(at: p) }
    }

    public func array<T>(_ key: String, _ element: (JSONValue, JSONPath) throws(SpecError) -> T) throws(SpecError) -> [T]? {
        guard let value = value(key) else { return nil }
        guard case .array(let elements) = value else { throw SpecError(path[key], "expected an array, found \(value.kind)") }
        var result: [T] = []
        result.reserveCapacity(elements.count)
        for (i, e) in elements.enumerated() { result.append(try element(e, path.key(key).index(i))) }
        return result
    }

    public func objects<T: JSONObjectConvertible>(_ key: String, as type: T.Type = T.self) throws(SpecError) -> [T]? {
        try array(key) { v, p throws(SpecError) in try T(json: JSONObject(v, at: p)) }
    }

    public func object<T: JSONObjectConvertible>(_ key: String, as type: T.Type = T.self) throws(SpecError) -> T? {
        guard let value = value(key) else { return nil }
        return try T(json: JSONObject(value, at: path.key(key)))
    }

    /// A JSON object used as a map (`annotations`, `sysctl`, `unified`).
    public func map<T>(_ key: String, _ element: (JSONValue, JSONPath) throws(SpecError) -> T) throws(SpecError) -> [String: T]? {
        guard let value = value(key) else { return nil }
        guard case .object(let members) = value else { throw SpecError(path[key], "expected an object, found \(value.kind)") }
        var result: [String: T] = [:]
        for (k, v) in members {
            if k.utf8.contains(0) { throw SpecError(path.key(key).key(k.visibleNUL).text, JSONValue.nulMessage) }
            result[k] = try element(v, path.key(key).key(k))
        }
        return result
    }

    public func stringMap(_ key: String) throws(SpecError) -> [String: String]? {
        try map(key) { v, p throws(SpecError) in try v.string(at: p) }
    }

    public func objectMap<T: JSONObjectConvertible>(_ key: String, as type: T.Type = T.self) throws(SpecError) -> [String: T]? {
        try map(key) { v, p throws(SpecError) in try T(json: JSONObject(v, at: p)) }
    }
}

extension JSONValue {
    /// Every string skiff reads from JSON ends up a C string somewhere (skiff-init's plan, a
    /// path, a cgroup file): one with a NUL inside would be read as two (`A=x\0B=y` as two
    /// variables) or cut short, so it is refused here, once, naming where it is.
    public func string(at path: JSONPath) throws(SpecError) -> String {
        guard case .string(let s) = self else { throw SpecError(path.text.orDocument, "expected a string, found \(kind)") }
        if s.utf8.contains(0) { throw SpecError(path.text.orDocument, Self.nulMessage) }
        return s
    }

    static let nulMessage = "contains a NUL character (\\u0000), which the kernel would read as the end of the string"

    public func integer<T: FixedWidthInteger>(at path: JSONPath, as type: T.Type = T.self) throws(SpecError) -> T {
        guard case .number(let text) = self else { throw SpecError(path.text.orDocument, "expected an integer, found \(kind)") }
        if let value = T(text) { return value }
        // Digits only (and a sign): the value is out of the field's range.
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        if !digits.isEmpty, digits.allSatisfy(\.isNumber) { throw SpecError(path.text.orDocument, "\(text) is out of range") }
        // Go's encoder writes large integers as e.g. 1e+06 only for floats; accept exact ones.
        if let double = Double(text), double.rounded() == double, let value = T(exactly: double) { return value }
        throw SpecError(path.text.orDocument, "expected an integer, got \(text)")
    }
}

/// Builds an object member by member, in order; nil members are left out.
public struct JSONObjectWriter {
    public private(set) var members: [(String, JSONValue)] = []

    public init() {}

    public mutating func set(_ key: String, _ value: JSONValue?) {
        if let value { members.append((key, value)) }
    }

    public mutating func set(_ key: String, _ value: String?) { set(key, value.map(JSONValue.string)) }
    public mutating func set(_ key: String, _ value: Bool?) { set(key, value.map(JSONValue.bool)) }
    public mutating func set<T: FixedWidthInteger>(_ key: String, _ value: T?) { set(key, value.map { JSONValue.number(String($0)) }) }
    public mutating func set(_ key: String, _ value: [String]?) { set(key, value.map { .array($0.map(JSONValue.string)) }) }
    public mutating func set<T: FixedWidthInteger>(_ key: String, _ value: [T]?) {
        set(key, value.map { .array($0.map { JSONValue.number(String($0)) }) })
    }
    // Closures, not `\.jsonValue`: a key path over a protocol requirement in a generic function
    // is built by the runtime on every call (swift_getKeyPath), on the path of every `create`.
    public mutating func set<T: JSONObjectConvertible>(_ key: String, _ value: T?) { set(key, value.map { $0.jsonValue }) }
    public mutating func set<T: JSONObjectConvertible>(_ key: String, _ value: [T]?) { set(key, value.map { .array($0.map { $0.jsonValue }) }) }
    public mutating func set(_ key: String, _ value: [String: String]?) {
        set(key, value.map { map in .object(map.keys.sorted().map { ($0, .string(map[$0]!)) }) })
    }
    public mutating func set<T: JSONObjectConvertible>(_ key: String, _ value: [String: T]?) {
        set(key, value.map { map in .object(map.keys.sorted().map { ($0, map[$0]!.jsonValue) }) })
    }
}

extension String {
    /// NUL shown as `\u0000`, for messages.
    var visibleNUL: String { split(separator: "\u{0}", omittingEmptySubsequences: false).joined(separator: "\\u0000") }

    /// An empty JSON path means the whole document.
    var orDocument: String { isEmpty ? "config.json" : self }
}
