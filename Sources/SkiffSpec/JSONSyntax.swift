/// Finds the first syntax error in a JSON document and says where it is.
///
/// JSONDecoder only reports "not valid JSON"; a user editing `config.json` by hand needs
/// `line 14, column 3: expected ','`. This runs only after decoding failed, so it is written
/// for clarity, not speed.
struct JSONSyntax {
    struct Failure: Error {
        var line: Int
        var column: Int
        var message: String
    }

    /// A number literal in the document: where it is (JSON path) and its bytes.
    struct NumberLiteral {
        var path: String
        var range: Range<Int>
    }

    private let bytes: [UInt8]
    private var offset = 0
    private var path: [String] = []
    private(set) var numbers: [NumberLiteral] = []

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Every number literal of a valid document, in order, with its JSON path.
    static func numbers(in bytes: [UInt8]) -> [NumberLiteral] {
        var parser = JSONSyntax(bytes)
        parser.skipSpace()
        do { try parser.value() } catch { return [] }
        return parser.numbers
    }

    private var pathText: String {
        path.reduce("") { text, component in
            component.hasPrefix("[") ? text + component : (text.isEmpty ? component : text + "." + component)
        }
    }

    /// nil when the document is syntactically valid JSON.
    static func firstError(in bytes: [UInt8]) -> Failure? {
        var parser = JSONSyntax(bytes)
        do throws(Failure) {
            parser.skipSpace()
            try parser.value()
            parser.skipSpace()
            if parser.offset < bytes.count { throw parser.failure("unexpected \(parser.describeCurrent()) after the document") }
            return nil
        } catch {
            return error
        }
    }

    private func failure(_ message: String) -> Failure {
        var line = 1, column = 1
        for b in bytes[..<min(offset, bytes.count)] {
            if b == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        return Failure(line: line, column: column, message: message)
    }

    private func describeCurrent() -> String {
        guard offset < bytes.count else { return "end of file" }
        let b = bytes[offset]
        return (0x20..<0x7f).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    private mutating func skipSpace() {
        while offset < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[offset]) { offset += 1 }
    }

    private mutating func expect(_ c: Character) throws(Failure) {
        skipSpace()
        guard offset < bytes.count, bytes[offset] == c.asciiValue! else {
            throw failure("expected '\(c)', found \(describeCurrent())")
        }
        offset += 1
    }

    private mutating func value() throws(Failure) {
        skipSpace()
        guard offset < bytes.count else { throw failure("unexpected end of file, expected a value") }
        switch bytes[offset] {
        case UInt8(ascii: "{"): try object()
        case UInt8(ascii: "["): try array()
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw failure("expected a value, found \(describeCurrent())")
        }
    }

    private mutating func object() throws(Failure) {
        offset += 1
        skipSpace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") { offset += 1; return }
        while true {
            skipSpace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else {
                throw failure("expected a key in double quotes, found \(describeCurrent())")
            }
            let keyStart = offset + 1
            try string()
            path.append(String(decoding: bytes[keyStart..<(offset - 1)], as: UTF8.self))
            try expect(":")
            try value()
            path.removeLast()
            skipSpace()
            guard offset < bytes.count else { throw failure("unexpected end of file, expected ',' or '}'") }
            if bytes[offset] == UInt8(ascii: "}") { offset += 1; return }
            guard bytes[offset] == UInt8(ascii: ",") else { throw failure("expected ',' or '}', found \(describeCurrent())") }
            offset += 1
        }
    }

    private mutating func array() throws(Failure) {
        offset += 1
        skipSpace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { offset += 1; return }
        var index = 0
        while true {
            path.append("[\(index)]")
            try value()
            path.removeLast()
            index += 1
            skipSpace()
            guard offset < bytes.count else { throw failure("unexpected end of file, expected ',' or ']'") }
            if bytes[offset] == UInt8(ascii: "]") { offset += 1; return }
            guard bytes[offset] == UInt8(ascii: ",") else { throw failure("expected ',' or ']', found \(describeCurrent())") }
            offset += 1
        }
    }

    private mutating func string() throws(Failure) {
        let start = offset
        offset += 1
        while offset < bytes.count {
            switch bytes[offset] {
            case UInt8(ascii: "\""): offset += 1; return
            case UInt8(ascii: "\\"): offset += 2
            case 0..<0x20: throw failure("control character in a string")
            default: offset += 1
            }
        }
        offset = start
        throw failure("unterminated string")
    }

    private mutating func literal(_ word: String) throws(Failure) {
        let start = offset
        for c in word.utf8 {
            guard offset < bytes.count, bytes[offset] == c else {
                offset = start
                throw failure("expected a value (true, false or null)")
            }
            offset += 1
        }
    }

    private mutating func number() throws(Failure) {
        let start = offset
        if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        let digits = { (b: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
        let numberBytes = digits
        var sawDigit = false
        while offset < bytes.count, numberBytes(bytes[offset]) || [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-")].contains(bytes[offset]) {
            if digits(bytes[offset]) { sawDigit = true }
            offset += 1
        }
        if !sawDigit { offset = start; throw failure("malformed number") }
        numbers.append(NumberLiteral(path: pathText, range: start..<offset))
    }
}
