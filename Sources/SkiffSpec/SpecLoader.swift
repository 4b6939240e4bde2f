// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSystem

/// Reads a bundle's `config.json` into a validated `Spec`.
public enum SpecLoader {
    /// Decode `bytes` (the content of `config.json`) and validate the result. Every error is
    /// a `SpecError` naming the JSON path, or the line and column for malformed JSON.
    public static func decode(_ bytes: [UInt8], file: String = "config.json") throws(SpecError) -> Spec {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw SpecError(file, "line \(error.line), column \(error.column): \(error.message)")
        }
        let spec = try Spec(jsonValue: document)
        try SpecValidator.validate(spec)
        return spec
    }

    /// Load and validate `<bundle>/config.json`.
    public static func load(bundle: String) throws(SpecError) -> Spec {
        let path = bundle.hasSuffix("/") ? bundle + "config.json" : bundle + "/config.json"
        let bytes: [UInt8]
        do throws(SystemError) {
            bytes = try readFile(path)
        } catch {
            throw SpecError(path, error.reason)
        }
        return try decode(bytes, file: "config.json")
    }

    /// The spec as indented JSON, fields in the specification's order.
    public static func encode(_ spec: Spec) -> [UInt8] {
        spec.jsonValue.serializedBytes(pretty: true)
    }
}
