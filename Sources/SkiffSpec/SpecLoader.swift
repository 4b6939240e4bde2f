import FoundationEssentials
import Glibc

/// Reads a bundle's `config.json` into a validated `Spec`.
public enum SpecLoader {
    /// Decode `bytes` (the content of `config.json`) and validate the result.
    /// Every error is a `SpecError` naming the JSON path, or the line and column for
    /// malformed JSON.
    public static func decode(_ bytes: [UInt8], file: String = "config.json") throws(SpecError) -> Spec {
        let spec: Spec
        do {
            spec = try JSONDecoder().decode(Spec.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw specError(for: error, bytes: bytes, file: file)
        } catch {
            throw SpecError(file, "\(error)")
        }
        try SpecValidator.validate(spec)
        return spec
    }

    /// Load and validate `<bundle>/config.json`.
    public static func load(bundle: String) throws(SpecError) -> Spec {
        let path = bundle.hasSuffix("/") ? bundle + "config.json" : bundle + "/config.json"
        let bytes: [UInt8]
        do {
            bytes = try readFile(path)
        } catch {
            throw SpecError(path, error.description)
        }
        return try decode(bytes, file: "config.json")
    }

    public static func encode(_ spec: Spec) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain Codable structs of strings and numbers cannot fail.
        return Array((try? encoder.encode(spec)) ?? Data())
    }

    static func specError(for error: DecodingError, bytes: [UInt8], file: String) -> SpecError {
        func path(_ keys: [any CodingKey]) -> JSONPath {
            keys.reduce(JSONPath()) { path, key in
                key.intValue.map { path.index($0) } ?? path.key(key.stringValue)
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            return SpecError(path(context.codingPath).key(key.stringValue).text, "missing")
        case .typeMismatch(let type, let context):
            return SpecError(path(context.codingPath).text.orFile(file), "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            return SpecError(path(context.codingPath).text.orFile(file), "expected \(describe(type)), found null")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty, let syntax = JSONSyntax.firstError(in: bytes) {
                return SpecError(file, "line \(syntax.line), column \(syntax.column): \(syntax.message)")
            }
            if context.codingPath.isEmpty, let number = numberOutOfRange(in: bytes) {
                return number
            }
            return SpecError(path(context.codingPath).text.orFile(file), context.debugDescription)
        @unknown default:
            return SpecError(file, "\(error)")
        }
    }

    /// JSONDecoder reports a number that does not fit its field (a negative uid) without a
    /// path. Find it: the first number whose replacement by 0 makes the document decode
    /// past that error. Runs only on the error path.
    static func numberOutOfRange(in bytes: [UInt8]) -> SpecError? {
        for number in JSONSyntax.numbers(in: bytes) {
            var patched = Array(bytes[..<number.range.lowerBound])
            patched.append(UInt8(ascii: "0"))
            patched.append(contentsOf: bytes[number.range.upperBound...])
            do {
                _ = try JSONDecoder().decode(Spec.self, from: Data(patched))
            } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
                continue
            } catch {}
            let literal = String(decoding: bytes[number.range], as: UTF8.self)
            return SpecError(number.path.isEmpty ? "config.json" : number.path, "\(literal) is out of range")
        }
        return nil
    }

    private static func describe(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.hasPrefix("Array") { return "an array" }
        if name.hasPrefix("Dictionary") { return "an object" }
        if name == "String" { return "a string" }
        if name == "Bool" { return "true or false" }
        if name.hasPrefix("Int") || name.hasPrefix("UInt") { return "an integer" }
        if name == "Double" || name == "Float" { return "a number" }
        return "an object"
    }
}

extension String {
    fileprivate func orFile(_ file: String) -> String { isEmpty ? file : self }
}

/// A file's bytes, with the errno text on failure.
func readFile(_ path: String) throws(SystemErrorText) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemErrorText(errno: errno) }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw SystemErrorText(errno: errno)
        }
        if n == 0 { return result }
        result.append(contentsOf: chunk[..<n])
    }
}

struct SystemErrorText: Error, CustomStringConvertible {
    var errno: Int32
    var description: String { String(cString: strerror(errno)).lowercasedFirst }
}

extension String {
    var lowercasedFirst: String { prefix(1).lowercased() + dropFirst() }
}
