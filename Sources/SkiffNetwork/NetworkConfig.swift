// SPDX-License-Identifier: Apache-2.0
import SkiffSpec
import SkiffSystem

/// A task's network, as its OCI annotations ask for it (the channel containerd, podman and
/// Kubernetes pass through unchanged). Any annotation under `io.skiff.network.` gives the
/// task its own interface on a node bridge; see the README for the schema.
public struct NetworkConfig: Sendable, Equatable {
    public static let prefix = "io.skiff.network."
    public static let keys = ["bridge", "subnet", "address", "groups", "ingress", "egress"]

    public var bridge = "skiff0"
    public var subnet = IPv4Subnet("10.77.0.0/16")!
    /// nil: the next free address of the subnet is leased.
    public var address: IPv4Address?
    /// Security-group-like names; a rule naming a group matches every task in it.
    public var groups: [String] = []
    /// Allowed inbound traffic; nothing else gets in.
    public var ingress: [NetworkRule] = []
    /// Allowed outbound traffic; nil (no `egress` annotation) means everything.
    public var egress: [NetworkRule]?

    public init() {}

    /// The config the annotations describe, or nil when none is under the prefix. Strict:
    /// an unknown key or a value that does not parse is an error naming the annotation.
    public static func parse(annotations: [String: String]?) throws(SpecError) -> NetworkConfig? {
        let ours = (annotations ?? [:]).filter { $0.key.hasPrefix(prefix) }
        guard !ours.isEmpty else { return nil }
        var config = NetworkConfig()
        for (key, value) in ours.sorted(by: { $0.key < $1.key }) {
            let field = "annotations[\"\(key)\"]"
            switch key.dropFirst(prefix.count) {
            case "bridge": config.bridge = try bridgeName(value, field: field)
            case "subnet":
                guard let subnet = IPv4Subnet(value) else { throw SpecError(field, "\"\(value)\" is not an IPv4 CIDR (like 10.77.0.0/16)") }
                guard (8...30).contains(subnet.prefixLength) else { throw SpecError(field, "a /\(subnet.prefixLength) subnet is not allowed (from /8 to /30)") }
                // The subnet becomes a route of the node: a public one would take the node's
                // own traffic to those addresses (a DNS server, a metadata service) to the tasks.
                guard IPv4Subnet.privateRanges.contains(where: { $0.contains(subnet) }) else {
                    let ranges = IPv4Subnet.privateRanges.map(\.description).joined(separator: ", ")
                    throw SpecError(field, "\(subnet) is not private address space (\(ranges)): the node would send its own traffic for it to the tasks")
                }
                config.subnet = subnet
            case "address":
                guard let address = IPv4Address(value) else { throw SpecError(field, "\"\(value)\" is not an IPv4 address") }
                config.address = address
            case "groups":
                config.groups = try value.split(separator: ",").map { name throws(SpecError) in try groupName(name, field: field) }
                guard config.groups.count <= maximumGroups else {
                    throw SpecError(field, "\(config.groups.count) groups; a task is in at most \(maximumGroups)")
                }
            case "ingress": config.ingress = try NetworkRule.list(value, field: field)
            case "egress": config.egress = try NetworkRule.list(value, field: field)
            default:
                throw SpecError(field, "unknown network annotation (known: \(keys.map { prefix + $0 }.joined(separator: ", ")))")
            }
        }
        if let address = config.address, !config.subnet.taskAddresses.contains(address.value) {
            throw SpecError(
                "annotations[\"\(prefix)address\"]",
                "\(address) is not a task address of the subnet \(config.subnet) (\(IPv4Address(config.subnet.taskAddresses.lowerBound)) to \(IPv4Address(config.subnet.taskAddresses.upperBound)))"
            )
        }
        return config
    }

    /// The most groups one task is in.
    public static let maximumGroups = 8

    /// The most groups a bridge has (named by its tasks or by their rules): each has two rules
    /// a direction, which a new flow to or from a task passes through (`TaskFirewall.replaceGroupRules`).
    public static let maximumGroupsPerBridge = 256

    /// Every group the rules name, so each has its number on the bridge (`LeaseStore.number`).
    public var referencedGroups: Set<String> {
        Set((ingress + (egress ?? [])).compactMap(\.peer.groupName))
    }

    static func bridgeName(_ value: String, field: String) throws(SpecError) -> String {
        guard (1...15).contains(value.utf8.count) else { throw SpecError(field, "\"\(value)\": an interface name has 1 to 15 characters") }
        guard value != ".", value != "..", value.utf8.allSatisfy({ isNameCharacter($0) || $0 == UInt8(ascii: ".") }) else {
            throw SpecError(field, "\"\(value)\": an interface name has only letters, digits, '.', '-' and '_'")
        }
        return value
    }

    static func groupName(_ name: Substring, field: String) throws(SpecError) -> String {
        let name = Substring(name.trimmingWhitespace)
        guard let first = name.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20),
            name.utf8.count <= 32, name.utf8.allSatisfy(isNameCharacter)
        else {
            throw SpecError(field, "group \"\(name)\": a group name starts with a letter and has up to 32 letters, digits, '-' and '_'")
        }
        return String(name)
    }

    static func isNameCharacter(_ c: UInt8) -> Bool {
        // c | 0x20 folds only ASCII letters into a...z.
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
            || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
    }
}

/// One allowed flow: protocol, destination ports, and the peer on the other side.
public struct NetworkRule: Sendable, Equatable, CustomStringConvertible {
    public enum Proto: String, Sendable, CaseIterable { case tcp, udp, icmp, any }
    public enum Peer: Sendable, Equatable {
        case cidr(IPv4Subnet)
        /// Every task in the group, now and later.
        case group(String)

        public var groupName: String? { if case .group(let name) = self { name } else { nil } }
    }

    public var proto: Proto
    /// Destination ports (tcp and udp only); empty means every port.
    public var ports: [ClosedRange<UInt16>]
    public var peer: Peer

    public init(proto: Proto, ports: [ClosedRange<UInt16>], peer: Peer) {
        self.proto = proto
        self.ports = ports
        self.peer = peer
    }

    /// The rule as the annotation grammar writes it (`tcp 80,8000-8080 web`): parsing it
    /// gives the same rule.
    public var description: String {
        var words = [proto.rawValue]
        if !ports.isEmpty {
            words.append(ports.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ","))
        }
        switch peer {
        case .cidr(let subnet): words.append(subnet.description)
        case .group(let name): words.append(name)
        }
        return words.joined(separator: " ")
    }

    /// Rules separated by ';' or new lines, each `PROTO [PORTS] PEER`:
    /// `tcp 5432 web; udp 53,5353 10.0.0.0/8; tcp 8000-8080 web; icmp 0.0.0.0/0`.
    static func list(_ value: String, field: String) throws(SpecError) -> [NetworkRule] {
        var rules: [NetworkRule] = []
        let texts = value.split(whereSeparator: { $0 == ";" || $0 == "\n" }).map { Substring($0.trimmingWhitespace) }.filter { !$0.isEmpty }
        for (i, text) in texts.enumerated() {
            do { rules.append(try NetworkRule(text)) } catch {
                throw SpecError(field, "rule \(i + 1) (\"\(text)\"): \(error.message)")
            }
        }
        let expanded = rules.reduce(0) { $0 + max(1, $1.ports.count) }
        if expanded > maximumRules {
            throw SpecError(field, "\(rules.count) rules make \(expanded) nftables rules (one per port range); at most \(maximumRules) per direction")
        }
        return rules
    }

    /// The most nftables rules one direction of a task may have (each port range of a rule is
    /// one). Installed in one transaction; 4096 take about 0.1 s here.
    public static let maximumRules = 4096

    init(_ text: Substring) throws(SpecError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let protoWord = words.first, let proto = Proto(rawValue: String(protoWord)) else {
            throw SpecError("", "unknown protocol \"\(words.first ?? "")\" (tcp, udp, icmp or any)")
        }
        let takesPorts = proto == .tcp || proto == .udp
        guard words.count == 2 || (words.count == 3 && takesPorts) else {
            throw SpecError("", takesPorts ? "expected \"\(proto) [PORTS] PEER\"" : "expected \"\(proto) PEER\" (\(proto) has no ports)")
        }
        self.proto = proto
        ports = words.count == 3 ? try Self.ports(words[1]) : []
        let peerWord = words[words.count - 1]
        if let first = peerWord.utf8.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) {
            guard let subnet = IPv4Subnet(peerWord) else {
                throw SpecError("", "peer \"\(peerWord)\" is not an IPv4 CIDR (host bits must be zero)")
            }
            peer = .cidr(subnet)
        } else {
            peer = .group(try NetworkConfig.groupName(peerWord, field: "").description)
        }
    }

    static func ports(_ word: Substring) throws(SpecError) -> [ClosedRange<UInt16>] {
        func port(_ text: Substring) throws(SpecError) -> UInt16 {
            guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text), (1...65535).contains(n) else {
                throw SpecError("", "port \"\(text)\" is out of range (1 to 65535)")
            }
            return UInt16(n)
        }
        var ranges: [ClosedRange<UInt16>] = []
        for item in word.split(separator: ",", omittingEmptySubsequences: false) {
            let ends = item.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count <= 2 else { throw SpecError("", "port range \"\(item)\" is not FIRST-LAST") }
            let low = try port(ends[0]), high = ends.count == 2 ? try port(ends[1]) : low
            guard low <= high else { throw SpecError("", "port range \"\(item)\" is empty") }
            ranges.append(low...high)
        }
        return ranges
    }
}
