// SPDX-License-Identifier: Apache-2.0
/// An IPv4 address, as a number (most significant byte first on the wire).
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Dotted quad only ("10.77.0.5"): no shorthand, no leading zeros, no spaces.
    public init?(_ text: Substring) { self.init(dottedQuad: text.utf8) }

    /// The same from bytes (a lease file's field): a node of a thousand tasks reads a
    /// thousand addresses on every create, and Character-wise parsing was most of it.
    init?<Text: Collection<UInt8>>(dottedQuad text: Text) {
        var value: UInt32 = 0, part: UInt32 = 0, digits = 0, dots = 0
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | part
                (part, digits, dots) = (0, 0, dots + 1)
            } else {
                // A digit, at most three, no leading zero, at most 255.
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 3, digits == 0 || part != 0 else { return nil }
                part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard part <= 255 else { return nil }
            }
        }
        guard digits > 0, dots == 3 else { return nil }
        self.value = value << 8 | part
    }

    public init?(_ text: String) { self.init(text[...]) }

    /// Four bytes in network order (a netlink attribute); nil for any other length.
    init?(bytes: ArraySlice<UInt8>) {
        guard bytes.count == 4 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Network byte order, for netlink attributes and nftables data.
    public var bytes: [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }

    public var description: String { bytes.map(String.init).joined(separator: ".") }

    /// Eight hex digits: a name-safe spelling for interface and chain names.
    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }
}

/// An IPv4 network in CIDR form ("10.77.0.0/16"); the address has no host bits set.
public struct IPv4Subnet: Hashable, Sendable, CustomStringConvertible {
    public var network: IPv4Address
    public var prefixLength: Int

    public init?(_ text: Substring) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPv4Address(parts[0]) else { return nil }
        var length = 32
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 2, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                let parsed = Int(parts[1]), parsed <= 32
            else { return nil }
            length = parsed
        }
        guard address.value & ~Self.mask(length) == 0 else { return nil }
        network = address
        prefixLength = length
    }

    public init?(_ text: String) { self.init(text[...]) }

    /// The network of `prefixLength` bits that holds `address` (its host bits cleared).
    public init(holding address: IPv4Address, prefixLength: Int) {
        self.prefixLength = prefixLength
        network = IPv4Address(address.value & Self.mask(prefixLength))
    }

    public var mask: UInt32 { Self.mask(prefixLength) }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << (32 - length) }

    public func contains(_ address: IPv4Address) -> Bool { address.value & mask == network.value }

    /// Whether every address of `other` is in this subnet.
    public func contains(_ other: IPv4Subnet) -> Bool { other.prefixLength >= prefixLength && contains(other.network) }

    /// Whether the two share any address (one then holds the other).
    public func overlaps(_ other: IPv4Subnet) -> Bool { contains(other) || other.contains(self) }

    /// The private address space (RFC 1918) and the shared space of carrier NAT (RFC 6598):
    /// addresses no one reaches across the internet, the only ones a task subnet may use.
    public static let privateRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"].map { IPv4Subnet($0)! }

    public var broadcast: IPv4Address { IPv4Address(network.value | ~mask) }

    /// The first host address: the node's (the bridge's) address on this subnet.
    public var gateway: IPv4Address { IPv4Address(network.value + 1) }

    /// The addresses a task may have: every host address but the gateway.
    public var taskAddresses: ClosedRange<UInt32> { (network.value + 2)...(broadcast.value - 1) }

    public var description: String { "\(network)/\(prefixLength)" }
}
