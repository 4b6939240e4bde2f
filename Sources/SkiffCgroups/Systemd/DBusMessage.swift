// SPDX-License-Identifier: Apache-2.0
/// The D-Bus wire format, as much of it as skiff speaks to systemd: little-endian messages of
/// the basic types, arrays, structs and variants (the D-Bus specification, "Message Protocol").
/// Marshalling is alignment-sensitive: every value starts at a multiple of its alignment,
/// counted from the start of the message (the body starts 8-aligned, so from the body's too).
public struct DBusWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    mutating func align(_ boundary: Int) {
        while bytes.count % boundary != 0 { bytes.append(0) }
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func uint32(_ value: UInt32) {
        align(4)
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    mutating func uint64(_ value: UInt64) {
        align(8)
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    mutating func bool(_ value: Bool) { uint32(value ? 1 : 0) }

    mutating func string(_ value: String) {
        uint32(UInt32(value.utf8.count))
        bytes += value.utf8
        bytes.append(0)
    }

    mutating func signature(_ value: String) {
        bytes.append(UInt8(value.utf8.count))
        bytes += value.utf8
        bytes.append(0)
    }

    /// An array: its byte length, padding to the elements' alignment (not counted), elements.
    mutating func array(alignment: Int, _ elements: (inout DBusWriter) -> Void) {
        uint32(0)
        let lengthAt = bytes.count - 4
        align(alignment)
        let start = bytes.count
        elements(&self)
        let length = UInt32(bytes.count - start).littleEndian
        withUnsafeBytes(of: length) { raw in for i in 0..<4 { bytes[lengthAt + i] = raw[i] } }
    }

    mutating func structure(_ fields: (inout DBusWriter) -> Void) {
        align(8)
        fields(&self)
    }

    mutating func value(_ value: DBusValue) { value.write(into: &self) }
}

/// A value skiff sends: the few types systemd's properties need.
public indirect enum DBusValue: Sendable, Equatable {
    case byte(UInt8)
    case bool(Bool)
    case uint32(UInt32)
    case uint64(UInt64)
    case string(String)
    case objectPath(String)
    case signature(String)
    /// `ay`
    case bytes([UInt8])
    /// `au`
    case uint32s([UInt32])
    /// `a(ss)`
    case stringPairs([(String, String)])
    /// `a(sv)`: properties.
    case properties([(String, DBusValue)])
    /// `a(sa(sv))`: auxiliary units (always empty here).
    case auxiliaryUnits

    public static func == (a: DBusValue, b: DBusValue) -> Bool {
        var x = DBusWriter(), y = DBusWriter()
        a.write(into: &x)
        b.write(into: &y)
        return a.signature == b.signature && x.bytes == y.bytes
    }

    public var signature: String {
        switch self {
        case .byte: "y"
        case .bool: "b"
        case .uint32: "u"
        case .uint64: "t"
        case .string: "s"
        case .objectPath: "o"
        case .signature: "g"
        case .bytes: "ay"
        case .uint32s: "au"
        case .stringPairs: "a(ss)"
        case .properties: "a(sv)"
        case .auxiliaryUnits: "a(sa(sv))"
        }
    }

    func write(into writer: inout DBusWriter) {
        switch self {
        case .byte(let value): writer.byte(value)
        case .bool(let value): writer.bool(value)
        case .uint32(let value): writer.uint32(value)
        case .uint64(let value): writer.uint64(value)
        case .string(let value), .objectPath(let value): writer.string(value)
        case .signature(let value): writer.signature(value)
        case .bytes(let values): writer.array(alignment: 1) { w in values.forEach { w.byte($0) } }
        case .uint32s(let values): writer.array(alignment: 4) { w in values.forEach { w.uint32($0) } }
        case .stringPairs(let pairs):
            writer.array(alignment: 8) { w in
                for (a, b) in pairs {
                    w.structure { s in
                        s.string(a)
                        s.string(b)
                    }
                }
            }
        case .properties(let properties):
            writer.array(alignment: 8) { w in
                for (name, value) in properties {
                    w.structure { s in
                        s.string(name)
                        s.signature(value.signature)
                        value.write(into: &s)
                    }
                }
            }
        case .auxiliaryUnits: writer.array(alignment: 8) { _ in }
        }
    }
}

/// One message: a method call skiff sends, or what the bus sends back (a return, an error, a
/// signal).
public struct DBusMessage: Sendable {
    public enum Kind: UInt8, Sendable { case methodCall = 1, methodReturn = 2, error = 3, signal = 4 }

    public var kind: Kind
    public var serial: UInt32
    public var path: String?
    public var interface: String?
    public var member: String?
    public var destination: String?
    public var errorName: String?
    public var replySerial: UInt32?
    public var signature = ""
    /// The marshalled body.
    public var body: [UInt8] = []

    /// A method call with `arguments` as its body.
    public static func call(
        serial: UInt32, destination: String, path: String, interface: String, member: String,
        _ arguments: [DBusValue] = []
    ) -> DBusMessage {
        var body = DBusWriter()
        arguments.forEach { body.value($0) }
        return DBusMessage(
            kind: .methodCall, serial: serial, path: path, interface: interface, member: member, destination: destination,
            signature: arguments.map(\.signature).joined(), body: body.bytes)
    }

    /// The message on the wire.
    public var encoded: [UInt8] {
        var writer = DBusWriter()
        writer.byte(UInt8(ascii: "l"))
        writer.byte(kind.rawValue)
        writer.byte(0)
        writer.byte(1)
        writer.uint32(UInt32(body.count))
        writer.uint32(serial)
        var fields: [(UInt8, DBusValue)] = []
        if let path { fields.append((1, .objectPath(path))) }
        if let interface { fields.append((2, .string(interface))) }
        if let member { fields.append((3, .string(member))) }
        if let errorName { fields.append((4, .string(errorName))) }
        if let replySerial { fields.append((5, .uint32(replySerial))) }
        if let destination { fields.append((6, .string(destination))) }
        if !signature.isEmpty { fields.append((8, .signature(signature))) }
        writer.array(alignment: 8) { w in
            for (code, value) in fields {
                w.structure { s in
                    s.byte(code)
                    s.signature(value.signature)
                    value.write(into: &s)
                }
            }
        }
        writer.align(8)
        return writer.bytes + body
    }

    /// The length of the message at the start of `bytes`, once its fixed header is there.
    static func length(of bytes: ArraySlice<UInt8>) -> Int? {
        guard bytes.count >= 16 else { return nil }
        var reader = DBusReader(bytes)
        reader.offset = 4
        guard let body = reader.uint32(), reader.uint32() != nil, let fields = reader.uint32() else { return nil }
        let header = 16 + Int(fields)
        return (header + 7) / 8 * 8 + Int(body)
    }

    /// Parses one whole message (little-endian only: skiff says so in its own messages, and
    /// the bus answers each peer in its own byte order).
    public init?(parsing bytes: ArraySlice<UInt8>) {
        var reader = DBusReader(bytes)
        guard reader.byte() == UInt8(ascii: "l"), let type = reader.byte(), let kind = Kind(rawValue: type),
            reader.byte() != nil, reader.byte() == 1,
            let bodyLength = reader.uint32(), let serial = reader.uint32(), let fieldsLength = reader.uint32()
        else { return nil }
        self.kind = kind
        self.serial = serial
        let end = reader.offset + Int(fieldsLength)
        while reader.offset < end {
            reader.align(8)
            guard let code = reader.byte(), let fieldSignature = reader.signature() else { return nil }
            switch (code, fieldSignature) {
            case (1, "o"): path = reader.string()
            case (2, "s"): interface = reader.string()
            case (3, "s"): member = reader.string()
            case (4, "s"): errorName = reader.string()
            case (5, "u"): replySerial = reader.uint32()
            case (6, "s"): destination = reader.string()
            case (7, "s"): _ = reader.string()
            case (8, "g"): signature = reader.signature() ?? ""
            case (9, "u"): _ = reader.uint32()
            default: return nil
            }
        }
        reader.align(8)
        guard reader.remaining >= Int(bodyLength) else { return nil }
        body = Array(reader.take(Int(bodyLength)))
    }

    init(
        kind: Kind, serial: UInt32, path: String? = nil, interface: String? = nil, member: String? = nil, destination: String? = nil,
        errorName: String? = nil, replySerial: UInt32? = nil, signature: String = "", body: [UInt8] = []
    ) {
        self.kind = kind
        self.serial = serial
        self.path = path
        self.interface = interface
        self.member = member
        self.destination = destination
        self.errorName = errorName
        self.replySerial = replySerial
        self.signature = signature
        self.body = body
    }

    /// The body's leading basic values (strings, object paths, uint32s), for the replies and
    /// signals skiff reads: `o` (a job), `s` (an error's text), `uoss` (JobRemoved).
    public var bodyValues: [DBusValue] {
        var reader = DBusReader(body[...])
        var values: [DBusValue] = []
        for type in signature {
            switch type {
            case "s":
                guard let v = reader.string() else { return values }
                values.append(.string(v))
            case "o":
                guard let v = reader.string() else { return values }
                values.append(.objectPath(v))
            case "u":
                guard let v = reader.uint32() else { return values }
                values.append(.uint32(v))
            case "b":
                guard let v = reader.uint32() else { return values }
                values.append(.bool(v != 0))
            case "v":
                // A variant of a string or object path (a property's value).
                guard let inner = reader.signature(), inner == "s" || inner == "o", let v = reader.string() else { return values }
                values.append(inner == "s" ? .string(v) : .objectPath(v))
            default: return values
            }
        }
        return values
    }
}

/// Reads little-endian D-Bus values, aligned from the start of the slice given.
struct DBusReader {
    let bytes: ArraySlice<UInt8>
    var offset = 0

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func align(_ boundary: Int) { offset = (offset + boundary - 1) / boundary * boundary }

    mutating func take(_ count: Int) -> ArraySlice<UInt8> {
        let start = bytes.startIndex + offset
        offset += count
        return bytes[start..<(start + count)]
    }

    mutating func byte() -> UInt8? {
        guard remaining >= 1 else { return nil }
        return take(1).first
    }

    mutating func uint32() -> UInt32? {
        align(4)
        guard remaining >= 4 else { return nil }
        return take(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    mutating func string() -> String? {
        guard let length = uint32(), remaining >= Int(length) + 1 else { return nil }
        let text = String(decoding: take(Int(length)), as: UTF8.self)
        _ = take(1)
        return text
    }

    mutating func signature() -> String? {
        guard let length = byte(), remaining >= Int(length) + 1 else { return nil }
        let text = String(decoding: take(Int(length)), as: UTF8.self)
        _ = take(1)
        return text
    }
}
