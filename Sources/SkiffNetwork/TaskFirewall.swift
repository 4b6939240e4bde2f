// SPDX-License-Identifier: Apache-2.0
import CShims

/// The nftables objects that enforce one bridge's rules on the node, outside every task.
///
/// Two tables named `skiff_<bridge>`, whose chains are fixed when the bridge's first task
/// comes: a task adds and removes only set elements. Adding a rule or a jump makes the
/// kernel revalidate every chain of the table on commit, so chains per task made each
/// create cost more than the one before; elements of a set do not.
/// - `bridge` family, stateless, per port, and only for this bridge's task ports: the bridge
///   family's hooks see the frames of every bridge of the namespace, so each task's veth
///   carries its bridge's interface group (`portGroup`) and the chains look at no other
///   port (`meta ibrname` would say the bridge, but kernels without nft_meta_bridge lack
///   it). A frame from a task's veth must carry the task's MAC and IPv4 address (ARP
///   included), a frame to it must be addressed to it or be ARP; anything else on such a
///   port (IPv6, VLAN tags, another address, the port of a task that is gone) is dropped.
///   This pins every address to one port, so the inet rules can trust addresses.
/// - `inet` family, stateful: a task's allowed flows are elements of concatenated sets (task
///   address . peer addresses or group . protocol [. destination ports]); traffic to a task
///   of this bridge that is neither a reply nor an element is dropped, and so is traffic
///   from a task whose egress is restricted. Task-to-task frames are bridged;
///   `bridge-nf-call-iptables` passes them through these hooks with conntrack.
/// A rule naming a group is one element with the group's number, and each task's groups are
/// elements of `members` (address . number), so a task joining a group changes no other
/// task's elements; each group has rules of its own (`replaceGroupRules`), made when the
/// bridge first numbers it.
struct TaskFirewall {
    let bridge: String

    var table: String { "skiff_" + bridge }

    // Hook numbers (NF_BR_* and NF_INET_* share them for these four).
    private static let prerouting: UInt32 = 0, input: UInt32 = 1, forward: UInt32 = 2, output: UInt32 = 3
    /// Ahead of br_netfilter (priority 0 in the bridge family), so spoofed frames never
    /// reach conntrack.
    private static let bridgePriority: Int32 = -300

    private static let etherType = NFTExpression.payload(base: UInt32(NFT_PAYLOAD_LL_HEADER), offset: 12, length: 2)
    private static let ipv4Ethertype: [UInt8] = [0x08, 0x00], arpEthertype: [UInt8] = [0x08, 0x06]
    private static func network(_ offset: UInt32, _ length: UInt32, into register: Int) -> NFTExpression {
        .payload(base: UInt32(NFT_PAYLOAD_NETWORK_HEADER), offset: offset, length: length, into: NFTExpression.register32(register))
    }
    private static let transportProtocol = NFTExpression.meta(key: UInt32(NFT_META_L4PROTO), into: NFTExpression.register32(2))
    private static let destinationPort = NFTExpression.payload(
        base: UInt32(NFT_PAYLOAD_TRANSPORT_HEADER), offset: 2, length: 2, into: NFTExpression.register32(3))
    private static let isIPv4: [NFTExpression] = [.meta(key: UInt32(NFT_META_NFPROTO)), .equal([UInt8(2)])]  // NFPROTO_IPV4

    /// The interface group of the bridge's task ports: a 32-bit FNV-1a hash of its name
    /// (never 0, every interface's default group). Two names of one node that hash alike
    /// would make each bridge's chains look at the other's ports too — as every bridge's did
    /// before groups — which at 2^-32 a pair is left at that.
    static func portGroup(of bridge: String) -> UInt32 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in bridge.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return hash == 0 ? 1 : hash
    }

    static func interfaceKey(_ name: String) -> [UInt8] {
        Array(name.utf8) + [UInt8](repeating: 0, count: NFTablesBatch.FieldType.interfaceName.length - name.utf8.count)
    }

    /// Tables, sets and chains; added once, with the bridge's first task (or again after a
    /// reload took them).
    func addSkeleton(to batch: inout NFTablesBatch) {
        batch.addTable(.bridge, table)
        batch.addTable(.inet, table)
        for set in FirewallSet.allCases {
            batch.addSet(set.family, table, set.rawValue, key: set.key, intervals: set.hasIntervals)
        }
        addBridgeChains(to: &batch)
        addInetChains(to: &batch)
    }

    private func addBridgeChains(to batch: inout NFTablesBatch) {
        let group = NetlinkMessage.bytes(of: Self.portGroup(of: bridge))
        // Frames from a port: the task's own MAC and address, or nothing.
        batch.addChain(.bridge, table, "prerouting", hook: (Self.prerouting, Self.bridgePriority))
        batch.addRule(.bridge, table, "prerouting", [.meta(key: UInt32(NFT_META_IIFGROUP)), .notEqual(group), .return])
        let port = NFTExpression.meta(key: UInt32(NFT_META_IIFNAME), into: NFTExpression.register32(0))
        let sourceMAC = NFTExpression.payload(base: UInt32(NFT_PAYLOAD_LL_HEADER), offset: 6, length: 6, into: NFTExpression.register32(4))
        batch.addRule(
            .bridge, table, "prerouting",
            [
                Self.etherType, .equal(Self.ipv4Ethertype), port, sourceMAC, Self.network(12, 4, into: 6),
                .lookup(set: FirewallSet.senders.rawValue, from: NFTExpression.register32(0)), .accept,
            ])
        batch.addRule(
            .bridge, table, "prerouting",
            [
                Self.etherType, .equal(Self.arpEthertype), port, sourceMAC, Self.network(8, 6, into: 6), Self.network(14, 4, into: 8),
                .lookup(set: FirewallSet.arpSenders.rawValue, from: NFTExpression.register32(0)), .accept,
            ])
        batch.addRule(.bridge, table, "prerouting", [.drop])
        // Frames to a port: addressed to the task, or ARP to a task's port.
        for (chain, hook) in [("forward", Self.forward), ("output", Self.output)] {
            batch.addChain(.bridge, table, chain, hook: (hook, Self.bridgePriority))
            batch.addRule(.bridge, table, chain, [.meta(key: UInt32(NFT_META_OIFGROUP)), .notEqual(group), .return])
            let port = NFTExpression.meta(key: UInt32(NFT_META_OIFNAME), into: NFTExpression.register32(0))
            batch.addRule(
                .bridge, table, chain,
                [
                    Self.etherType, .equal(Self.ipv4Ethertype), port, Self.network(16, 4, into: 4),
                    .lookup(set: FirewallSet.receivers.rawValue, from: NFTExpression.register32(0)), .accept,
                ])
            batch.addRule(
                .bridge, table, chain,
                [Self.etherType, .equal(Self.arpEthertype), port, .lookup(set: FirewallSet.ports.rawValue, from: NFTExpression.register32(0)), .accept])
            batch.addRule(.bridge, table, chain, [.drop])
        }
    }

    private func addInetChains(to batch: inout NFTablesBatch) {
        let established: [NFTExpression] = [.conntrackState, .mask([6, 0, 0, 0]), .notEqual([0, 0, 0, 0]), .accept]
        let source = Self.network(12, 4, into: 0), destination = Self.network(16, 4, into: 0)
        let fromRestricted = Self.isIPv4 + [source, .lookup(set: FirewallSet.egressTasks.rawValue, from: NFTExpression.register32(0))]
        let toTask = Self.isIPv4 + [destination, .lookup(set: FirewallSet.ingressTasks.rawValue, from: NFTExpression.register32(0))]
        // A flow the task's own rules allow: (task, peer, protocol[, port]) in the exact set or
        // the interval sets; then the group rules (`replaceGroupRules`). A packet whose
        // transport header cannot be read matches no rule with a port.
        func allowed(_ task: Int, _ peer: Int, _ sets: FirewallSet.Direction, then verdict: NFTExpression) -> [[NFTExpression]] {
            let taskAndPeer = [Self.network(UInt32(task), 4, into: 0), Self.network(UInt32(peer), 4, into: 1)]
            return [
                taskAndPeer + [Self.transportProtocol, Self.destinationPort, .lookup(set: sets.exact.rawValue, from: NFTExpression.register32(0)), verdict],
                taskAndPeer + [Self.transportProtocol, .lookup(set: sets.ranges.rawValue, from: NFTExpression.register32(0)), verdict],
                taskAndPeer + [
                    Self.transportProtocol, Self.destinationPort, .lookup(set: sets.rangesWithPorts.rawValue, from: NFTExpression.register32(0)), verdict,
                ],
            ]
        }
        batch.addChain(.inet, table, "ingress_groups")
        batch.addChain(.inet, table, "egress_groups")
        batch.addChain(.inet, table, "ingress_check")
        for rule in allowed(16, 12, .ingress, then: .accept) { batch.addRule(.inet, table, "ingress_check", rule) }
        batch.addRule(.inet, table, "ingress_check", [.jump("ingress_groups")])
        batch.addRule(.inet, table, "ingress_check", [.drop])
        // Past a task's egress rules, the packet still meets its peer's ingress rules; a peer
        // that is not a task of the bridge has none.
        batch.addChain(.inet, table, "ingress_gate")
        batch.addRule(.inet, table, "ingress_gate", toTask + [.goto("ingress_check")])
        batch.addRule(.inet, table, "ingress_gate", [.accept])
        batch.addChain(.inet, table, "egress_check")
        for rule in allowed(12, 16, .egress, then: .goto("ingress_gate")) { batch.addRule(.inet, table, "egress_check", rule) }
        batch.addRule(.inet, table, "egress_check", [.jump("egress_groups")])
        batch.addRule(.inet, table, "egress_check", [.drop])

        batch.addChain(.inet, table, "forward", hook: (Self.forward, 0))
        batch.addRule(.inet, table, "forward", established)
        batch.addRule(.inet, table, "forward", fromRestricted + [.goto("egress_check")])
        batch.addRule(.inet, table, "forward", toTask + [.goto("ingress_check")])
        batch.addChain(.inet, table, "input", hook: (Self.input, 0))
        batch.addRule(.inet, table, "input", established)
        batch.addRule(.inet, table, "input", fromRestricted + [.goto("egress_check")])
        batch.addChain(.inet, table, "output", hook: (Self.output, 0))
        batch.addRule(.inet, table, "output", established)
        batch.addRule(.inet, table, "output", toTask + [.goto("ingress_check")])
    }

    /// The rules of groups 1...`count`, in place of the chains' old ones: for each group, a
    /// packet whose peer is a member (peer . number in `members`) and whose task allows the
    /// group (task . number . protocol [. port] in a group set). The number is a constant of
    /// the rule, so `nft` can print it (a map's result inside a concatenation, the one-rule
    /// way, makes nft 1.0 abort on `list ruleset`). A new group adds rules; a task joining
    /// one adds only elements.
    func replaceGroupRules(count: Int, in batch: inout NFTablesBatch, flushing: Bool = true) {
        let register = NFTExpression.register32
        for (chain, sets, task, peer, verdict) in [
            ("ingress_groups", FirewallSet.Direction.ingress, UInt32(16), UInt32(12), NFTExpression.accept),
            ("egress_groups", .egress, 12, 16, .goto("ingress_gate")),
        ] {
            if flushing { batch.flushChain(.inet, table, chain) }
            guard count > 0 else { continue }
            for number in 1...UInt32(count) {
                let isMember: [NFTExpression] = [
                    Self.network(peer, 4, into: 0), .value(FirewallElements.memberBytes(number), into: register(1)),
                    .lookup(set: FirewallSet.members.rawValue, from: register(0)),
                ]
                let taskAndGroup = [Self.network(task, 4, into: 0), .value(FirewallElements.groupBytes(number), into: register(1)), Self.transportProtocol]
                batch.addRule(.inet, table, chain, isMember + taskAndGroup + [.lookup(set: sets.groups.rawValue, from: register(0)), verdict])
                batch.addRule(
                    .inet, table, chain, isMember + taskAndGroup + [Self.destinationPort, .lookup(set: sets.groupsWithPorts.rawValue, from: register(0)), verdict])
            }
        }
    }

    /// Whether every one of `elements` is in its set (a task's, after `nft flush` of a set or
    /// an element deleted by hand, is not).
    func holds(_ elements: FirewallElements, namespace: Int32? = nil) throws(NetworkError) -> Bool {
        var requests: [NetlinkMessage] = []
        for set in FirewallSet.allCases {
            for element in elements.sets[set] ?? [] { requests.append(NFTablesBatch.getElement(set.family, table, set.rawValue, key: element.key)) }
        }
        return try NFTablesBatch.exist(requests, step: "looking up the elements of \(table)", namespace: namespace)
    }

    /// Whether both tables are there with this layout (the last set each skeleton makes): a
    /// reload takes them whole (`nft flush ruleset`) or one at a time.
    func isWhole(namespace: Int32? = nil) throws(NetworkError) -> Bool {
        try NFTablesBatch.exist(
            [
                NFTablesBatch.getSet(.bridge, table, FirewallSet.receivers.rawValue),
                NFTablesBatch.getSet(.inet, table, FirewallSet.allCases.last!.rawValue),
            ], step: "looking up the tables \(table)", namespace: namespace)
    }

    func add(_ elements: FirewallElements, to batch: inout NFTablesBatch) {
        for set in FirewallSet.allCases {
            guard let members = elements.sets[set], !members.isEmpty else { continue }
            batch.addElements(set.family, table, set.rawValue, members.sorted { $0.key.lexicographicallyPrecedes($1.key) })
        }
    }

    func delete(_ elements: FirewallElements, to batch: inout NFTablesBatch) {
        for set in FirewallSet.allCases {
            guard let members = elements.sets[set], !members.isEmpty else { continue }
            batch.deleteElements(set.family, table, set.rawValue, members.sorted { $0.key.lexicographicallyPrecedes($1.key) })
        }
    }
}

/// The sets of a bridge's tables.
enum FirewallSet: String, CaseIterable {
    /// Task ports (bridge family).
    case ports
    /// port . MAC . IPv4 source: what a task may send.
    case senders
    /// port . MAC . ARP sender MAC . ARP sender address.
    case arpSenders = "arp_senders"
    /// port . IPv4 destination: what a task may receive.
    case receivers
    /// Every task of the bridge: its inbound traffic is checked (inet family).
    case ingressTasks = "ingress_tasks"
    /// The tasks whose outbound traffic is checked.
    case egressTasks = "egress_tasks"
    /// task . peer . protocol . port, one address and one port: a hash, whose insertions cost
    /// the same however many it holds (an interval set's grow with its size).
    case ingressExact = "ingress_exact", egressExact = "egress_exact"
    /// task . peer . protocol, and with destination ports: the flows allowed, as ranges.
    case ingress, ingressPorts = "ingress_ports", egress, egressPorts = "egress_ports"
    /// task . group . protocol [. port]: flows allowed from or to a group's members.
    case ingressGroups = "ingress_groups", ingressGroupPorts = "ingress_group_ports"
    case egressGroups = "egress_groups", egressGroupPorts = "egress_group_ports"
    /// address . group number: who is in which group (a task in at most
    /// `NetworkConfig.maximumGroups`). The last set of the skeleton: a table without it is of
    /// an older layout, made again whole.
    case members

    /// The sets one direction's flows go to.
    struct Direction {
        var exact: FirewallSet, ranges: FirewallSet, rangesWithPorts: FirewallSet, groups: FirewallSet, groupsWithPorts: FirewallSet
        static let ingress = Direction(
            exact: .ingressExact, ranges: .ingress, rangesWithPorts: .ingressPorts, groups: .ingressGroups, groupsWithPorts: .ingressGroupPorts)
        static let egress = Direction(exact: .egressExact, ranges: .egress, rangesWithPorts: .egressPorts, groups: .egressGroups, groupsWithPorts: .egressGroupPorts)
    }

    var family: NFTablesBatch.Family {
        switch self {
        case .ports, .senders, .arpSenders, .receivers: .bridge
        default: .inet
        }
    }

    var key: NFTablesBatch.SetKey {
        switch self {
        case .ports: .init(.interfaceName)
        case .senders: .init(.interfaceName, .etherAddress, .ipv4Address)
        case .arpSenders: .init(.interfaceName, .etherAddress, .etherAddress, .ipv4Address)
        case .receivers: .init(.interfaceName, .ipv4Address)
        case .ingressTasks, .egressTasks: .init(.ipv4Address)
        case .ingress, .egress: .init(.ipv4Address, .ipv4Address, .inetProtocol)
        case .ingressPorts, .egressPorts, .ingressExact, .egressExact: .init(.ipv4Address, .ipv4Address, .inetProtocol, .inetService)
        case .ingressGroups, .egressGroups: .init(.ipv4Address, .mark, .inetProtocol)
        case .ingressGroupPorts, .egressGroupPorts: .init(.ipv4Address, .mark, .inetProtocol, .inetService)
        case .members: .init(.ipv4Address, .mark)
        }
    }

    var hasIntervals: Bool {
        switch self {
        case .ingress, .ingressPorts, .egress, .egressPorts, .ingressGroups, .ingressGroupPorts, .egressGroups, .egressGroupPorts: true
        default: false
        }
    }
}

/// Elements of a bridge's sets: what one task puts there, or what a change adds or removes.
struct FirewallElements: Equatable {
    var sets: [FirewallSet: Set<NFTablesBatch.Element>] = [:]

    var isEmpty: Bool { sets.values.allSatisfy(\.isEmpty) }

    mutating func insert(_ element: NFTablesBatch.Element, into set: FirewallSet) { sets[set, default: []].insert(element) }

    mutating func formUnion(_ other: FirewallElements) {
        for (set, members) in other.sets { sets[set, default: []].formUnion(members) }
    }

    /// What pins a task to its port: its port, MAC and address, whether its traffic in each
    /// direction is checked, and its groups (`groups`: their numbers, in the task's order).
    static func identity(of task: TaskEndpoint, restrictsEgress: Bool, groups: [UInt32]) -> FirewallElements {
        var elements = FirewallElements()
        let port = TaskFirewall.interfaceKey(task.hostInterface), address = task.address.bytes
        elements.insert(.init(key: FirewallSet.ports.key.bytes(port)), into: .ports)
        elements.insert(.init(key: FirewallSet.senders.key.bytes(port, task.mac, address)), into: .senders)
        elements.insert(.init(key: FirewallSet.arpSenders.key.bytes(port, task.mac, task.mac, address)), into: .arpSenders)
        elements.insert(.init(key: FirewallSet.receivers.key.bytes(port, address)), into: .receivers)
        elements.insert(.init(key: address), into: .ingressTasks)
        if restrictsEgress { elements.insert(.init(key: address), into: .egressTasks) }
        for group in groups { elements.insert(.init(key: FirewallSet.members.key.bytes(address, Self.memberBytes(group))), into: .members) }
        return elements
    }

    /// A group's number in the interval sets: big-endian, as nft keeps a `mark` field of an
    /// interval (so that ranges compare as numbers) and prints it back.
    static func groupBytes(_ group: UInt32) -> [UInt8] { NetlinkMessage.bytes(of: group.bigEndian) }
    /// A group's number in `members`, a hash: host order, a `mark`'s own (`nft list set`
    /// prints the number as it is).
    static func memberBytes(_ group: UInt32) -> [UInt8] { NetlinkMessage.bytes(of: group) }

    /// The flows a task's rules allow. A peer address and one port is an exact key; ranges
    /// become disjoint elements (the interval sets refuse overlapping ones); a group peer is
    /// the group's number (`groupNumbers`), matched through the group rules. Throws past
    /// `limit` disjoint elements in one set: overlapping rules can multiply.
    static func flows(
        of address: IPv4Address, ingress: [NetworkRule], egress: [NetworkRule]?, groupNumbers: [String: UInt32],
        limit: Int = .max
    ) throws(FlowOverflow) -> FirewallElements {
        var elements = FirewallElements()
        for (rules, sets, isIngress) in [(ingress, FirewallSet.Direction.ingress, true), (egress ?? [], .egress, false)] {
            var ranges: [FlowBox] = [], rangesWithPorts: [FlowBox] = [], groups: [FlowBox] = [], groupsWithPorts: [FlowBox] = []
            for rule in rules {
                let protocols: ClosedRange<UInt32> =
                    switch rule.proto {
                    case .tcp: 6...6
                    case .udp: 17...17
                    case .icmp: 1...1
                    case .any: 0...255
                    }
                let peer: ClosedRange<UInt32>, isGroup: Bool
                switch rule.peer {
                case .cidr(let subnet):
                    peer = subnet.network.value...(subnet.network.value | ~subnet.mask)
                    isGroup = false
                case .group(let name):
                    guard let number = groupNumbers[name] else { continue }
                    peer = number...number
                    isGroup = true
                }
                if rule.ports.isEmpty {
                    (isGroup ? { groups.append($0) } : { ranges.append($0) })(FlowBox([peer, protocols]))
                    continue
                }
                for range in rule.ports {
                    if !isGroup, peer.count == 1, range.count == 1 {
                        // One address, one port: an exact key (overlaps are harmless in a hash).
                        let port = range.lowerBound
                        elements.insert(
                            .init(
                                key: sets.exact.key.bytes(
                                    address.bytes, IPv4Address(peer.lowerBound).bytes, [UInt8(protocols.lowerBound)], [UInt8(port >> 8), UInt8(port & 0xff)])),
                            into: sets.exact)
                    } else {
                        let box = FlowBox([peer, protocols, UInt32(range.lowerBound)...UInt32(range.upperBound)])
                        if isGroup { groupsWithPorts.append(box) } else { rangesWithPorts.append(box) }
                    }
                }
            }
            for (boxes, set) in [(ranges, sets.ranges), (rangesWithPorts, sets.rangesWithPorts), (groups, sets.groups), (groupsWithPorts, sets.groupsWithPorts)] {
                let disjoint = FlowBox.disjointUnion(of: boxes)
                guard disjoint.count <= limit else { throw FlowOverflow(isIngress: isIngress, elements: disjoint.count) }
                for box in disjoint {
                    func key(_ end: KeyPath<ClosedRange<UInt32>, UInt32>) -> [UInt8] {
                        // The peer field is an address or a group's number: four bytes either way.
                        var values = [address.bytes, IPv4Address(box.ranges[0][keyPath: end]).bytes, [UInt8(box.ranges[1][keyPath: end])]]
                        if box.ranges.count == 3 {
                            let port = UInt16(box.ranges[2][keyPath: end])
                            values.append([UInt8(port >> 8), UInt8(port & 0xff)])
                        }
                        return set.key.bytes(values)
                    }
                    elements.insert(.init(key: key(\.lowerBound), end: key(\.upperBound)), into: set)
                }
            }
        }
        return elements
    }
}

/// A task's rules overlap so much that their disjoint elements pass the limit.
struct FlowOverflow: Error {
    var isIngress: Bool
    var elements: Int
}

/// A task as the node sees it: its address, the MAC of its `eth0`, and the host end of
/// its veth (named in its lease, so teardown needs nothing else).
public struct TaskEndpoint: Sendable {
    public var address: IPv4Address
    /// "skv" + the address in hex + 3 random hex digits (14 characters; IFNAMSIZ allows
    /// 15): the veth of an earlier task with the same address may still be on its way out
    /// (see `TaskNetwork.tearDown`), so names are never reused.
    public var hostInterface: String

    static let interfacePrefix = "skv"

    public init(address: IPv4Address, hostInterface: String) {
        self.address = address
        self.hostInterface = hostInterface
    }

    /// A new endpoint for `address`, with a fresh interface name.
    init(newFor address: IPv4Address) {
        let tag = String(UInt16.random(in: 0...0xfff), radix: 16)
        self.init(address: address, hostInterface: Self.interfacePrefix + address.hex + String(repeating: "0", count: 3 - tag.count) + tag)
    }
    /// Locally administered, 02:73 ("s") + the address.
    public var mac: [UInt8] { [0x02, 0x73] + address.bytes }
}
