import CShims

/// The nftables objects that enforce one bridge's rules on the node, outside every task.
///
/// Two tables named `skiff_<bridge>`:
/// - `bridge` family, stateless, per port: a frame from a task's veth must carry the task's
///   MAC and IPv4 address (ARP included), and a frame to it must be addressed to it.
///   Anything else (IPv6, VLAN tags, another address) is dropped. This pins every address
///   to one port, so the inet rules below can trust addresses.
/// - `inet` family, stateful: per task an ingress chain (and an egress chain when egress is
///   restricted), reached through verdict maps keyed by the task's address from the
///   forward, input (task to node) and output (node to task) hooks. Task-to-task frames are
///   bridged; `bridge-nf-call-iptables` passes them through these hooks with conntrack
///   (this kernel has no conntrack in the bridge family itself).
/// Groups are sets of addresses (`g_<name>`), so a rule naming a group follows its members.
struct TaskFirewall {
    let bridge: String

    var table: String { "skiff_" + bridge }

    // Hook numbers (NF_BR_* and NF_INET_* share them for these four).
    private static let prerouting: UInt32 = 0, input: UInt32 = 1, forward: UInt32 = 2, output: UInt32 = 3
    /// Ahead of br_netfilter (priority 0 in the bridge family), so spoofed frames never
    /// reach conntrack.
    private static let bridgePriority: Int32 = -300
    private static let interfaceNameLength = 16  // IFNAMSIZ

    private static let etherType = NFTExpression.payload(base: UInt32(NFT_PAYLOAD_LL_HEADER), offset: 12, length: 2)
    private static let ipv4Ethertype: [UInt8] = [0x08, 0x00], arpEthertype: [UInt8] = [0x08, 0x06]
    private static func network(_ offset: UInt32, _ length: UInt32) -> NFTExpression {
        .payload(base: UInt32(NFT_PAYLOAD_NETWORK_HEADER), offset: offset, length: length)
    }
    private static let sourceAddress = network(12, 4), destinationAddress = network(16, 4)
    private static let isIPv4: [NFTExpression] = [.meta(key: UInt32(NFT_META_NFPROTO)), .equal([UInt8(2)])]  // NFPROTO_IPV4

    static func interfaceKey(_ name: String) -> [UInt8] {
        Array(name.utf8) + [UInt8](repeating: 0, count: interfaceNameLength - name.utf8.count)
    }

    /// Tables, maps and hooked chains; added once, with the first task.
    func addSkeleton(to batch: inout NFTablesBatch) {
        batch.addTable(.bridge, table)
        for map in ["ports", "dests"] {
            batch.addSet(.bridge, table, map, key: .interfaceName, keyLength: Self.interfaceNameLength, isVerdictMap: true)
        }
        // A task port's own chain accepts what may pass; a task port with no chain (the
        // veth of a deleted task, until the kernel removes it) passes nothing.
        let fence: [UInt8] = Array(TaskEndpoint.interfacePrefix.utf8)
        batch.addChain(.bridge, table, "prerouting", hook: (Self.prerouting, Self.bridgePriority))
        batch.addRule(.bridge, table, "prerouting", [.meta(key: UInt32(NFT_META_IIFNAME)), .lookup(set: "ports", isVerdictMap: true)])
        batch.addRule(.bridge, table, "prerouting", [.meta(key: UInt32(NFT_META_IIFNAME)), .equal(fence), .drop])
        for (chain, hook) in [("forward", Self.forward), ("output", Self.output)] {
            batch.addChain(.bridge, table, chain, hook: (hook, Self.bridgePriority))
            batch.addRule(.bridge, table, chain, [.meta(key: UInt32(NFT_META_OIFNAME)), .lookup(set: "dests", isVerdictMap: true)])
            batch.addRule(.bridge, table, chain, [.meta(key: UInt32(NFT_META_OIFNAME)), .equal(fence), .drop])
        }

        batch.addTable(.inet, table)
        for map in ["ingress", "egress"] {
            batch.addSet(.inet, table, map, key: .ipv4Address, keyLength: 4, isVerdictMap: true)
        }
        let fromTask = Self.isIPv4 + [Self.sourceAddress, .lookup(set: "egress", isVerdictMap: true)]
        let toTask = Self.isIPv4 + [Self.destinationAddress, .lookup(set: "ingress", isVerdictMap: true)]
        batch.addChain(.inet, table, "forward", hook: (Self.forward, 0))
        batch.addRule(.inet, table, "forward", fromTask)
        batch.addRule(.inet, table, "forward", toTask)
        batch.addChain(.inet, table, "input", hook: (Self.input, 0))
        batch.addRule(.inet, table, "input", fromTask)
        batch.addChain(.inet, table, "output", hook: (Self.output, 0))
        batch.addRule(.inet, table, "output", toTask)
    }

    func addGroups(_ groups: some Sequence<String>, to batch: inout NFTablesBatch) {
        for group in groups { batch.addSet(.inet, table, "g_" + group, key: .ipv4Address, keyLength: 4) }
    }

    /// One task's chains, map entries and group memberships.
    func addTask(_ task: TaskEndpoint, _ config: NetworkConfig, to batch: inout NFTablesBatch) {
        let port = task.hostInterface
        batch.addChain(.bridge, table, "from_" + port)
        batch.flushChain(.bridge, table, "from_" + port)
        batch.addRule(.bridge, table, "from_" + port, [.payload(base: UInt32(NFT_PAYLOAD_LL_HEADER), offset: 6, length: 6), .notEqual(task.mac), .drop])
        batch.addRule(.bridge, table, "from_" + port, [Self.etherType, .equal(Self.ipv4Ethertype), Self.sourceAddress, .equal(task.address.bytes), .accept])
        batch.addRule(
            .bridge, table, "from_" + port,
            [
                Self.etherType, .equal(Self.arpEthertype), Self.network(8, 6), .equal(task.mac),
                Self.network(14, 4), .equal(task.address.bytes), .accept,
            ])
        batch.addRule(.bridge, table, "from_" + port, [.drop])
        batch.addChain(.bridge, table, "to_" + port)
        batch.flushChain(.bridge, table, "to_" + port)
        batch.addRule(.bridge, table, "to_" + port, [Self.etherType, .equal(Self.ipv4Ethertype), Self.destinationAddress, .equal(task.address.bytes), .accept])
        batch.addRule(.bridge, table, "to_" + port, [Self.etherType, .equal(Self.arpEthertype), .accept])
        batch.addRule(.bridge, table, "to_" + port, [.drop])
        batch.addElement(.bridge, table, "ports", key: Self.interfaceKey(port), jumpTo: "from_" + port)
        batch.addElement(.bridge, table, "dests", key: Self.interfaceKey(port), jumpTo: "to_" + port)

        addGroups(Set(config.groups).union(config.referencedGroups).sorted(), to: &batch)
        addPolicy(task.ingressChain, rules: config.ingress, peerIsSource: true, to: &batch)
        batch.addElement(.inet, table, "ingress", key: task.address.bytes, jumpTo: task.ingressChain)
        if let egress = config.egress {
            addPolicy(task.egressChain, rules: egress, peerIsSource: false, to: &batch)
            batch.addElement(.inet, table, "egress", key: task.address.bytes, jumpTo: task.egressChain)
        }
        for group in config.groups { batch.addElement(.inet, table, "g_" + group, key: task.address.bytes) }
    }

    /// A chain that lets through return traffic and what `rules` allow, and drops the rest.
    private func addPolicy(_ chain: String, rules: [NetworkRule], peerIsSource: Bool, to batch: inout NFTablesBatch) {
        batch.addChain(.inet, table, chain)
        batch.flushChain(.inet, table, chain)
        // ct state established,related: the bits of IP_CT_ESTABLISHED and IP_CT_RELATED.
        batch.addRule(.inet, table, chain, [.conntrackState, .mask([6, 0, 0, 0]), .notEqual([0, 0, 0, 0]), .return])
        for rule in rules {
            // The IPv4 guard is implied by the hook rules; it is restated so `nft list` reads "ip saddr".
            var match = Self.isIPv4
            switch rule.proto {
            case .tcp: match += [.meta(key: UInt32(NFT_META_L4PROTO)), .equal([6])]
            case .udp: match += [.meta(key: UInt32(NFT_META_L4PROTO)), .equal([17])]
            case .icmp: match += [.meta(key: UInt32(NFT_META_L4PROTO)), .equal([1])]
            case .any: break
            }
            let peerAddress = peerIsSource ? Self.sourceAddress : Self.destinationAddress
            switch rule.peer {
            case .cidr(let subnet) where subnet.prefixLength == 0: break
            case .cidr(let subnet) where subnet.prefixLength == 32: match += [peerAddress, .equal(subnet.network.bytes)]
            case .cidr(let subnet): match += [peerAddress, .mask(IPv4Address(subnet.mask).bytes), .equal(subnet.network.bytes)]
            case .group(let name): match += [peerAddress, .lookup(set: "g_" + name, isVerdictMap: false)]
            }
            let destinationPort = NFTExpression.payload(base: UInt32(NFT_PAYLOAD_TRANSPORT_HEADER), offset: 2, length: 2)
            let portMatches: [[NFTExpression]] =
                rule.ports.isEmpty
                ? [[]]
                : rule.ports.map { range in
                    let low = [UInt8(range.lowerBound >> 8), UInt8(range.lowerBound & 0xff)]
                    let high = [UInt8(range.upperBound >> 8), UInt8(range.upperBound & 0xff)]
                    return range.count == 1
                        ? [destinationPort, .equal(low)]
                        : [destinationPort, .compare(UInt32(NFT_CMP_GTE), low), .compare(UInt32(NFT_CMP_LTE), high)]
                }
            for ports in portMatches { batch.addRule(.inet, table, chain, match + ports + [.return]) }
        }
        batch.addRule(.inet, table, chain, [.drop])
    }

    /// Removes one task's objects whether or not each still exists (the skeleton does):
    /// every object is (re)added, then deleted, in one transaction (nftables has no "delete
    /// if present" before Linux 6.3).
    func removeTask(_ task: TaskEndpoint, groups: [String], to batch: inout NFTablesBatch) {
        let port = task.hostInterface
        for (map, chain) in [("ports", "from_" + port), ("dests", "to_" + port)] {
            batch.addChain(.bridge, table, chain)
            batch.addElement(.bridge, table, map, key: Self.interfaceKey(port), jumpTo: chain)
            batch.deleteElement(.bridge, table, map, key: Self.interfaceKey(port))
            batch.flushChain(.bridge, table, chain)
            batch.deleteChain(.bridge, table, chain)
        }
        for (map, chain) in [("ingress", task.ingressChain), ("egress", task.egressChain)] {
            batch.addChain(.inet, table, chain)
            batch.addElement(.inet, table, map, key: task.address.bytes, jumpTo: chain)
            batch.deleteElement(.inet, table, map, key: task.address.bytes)
            batch.flushChain(.inet, table, chain)
            batch.deleteChain(.inet, table, chain)
        }
        addGroups(groups, to: &batch)
        for group in groups {
            batch.addElement(.inet, table, "g_" + group, key: task.address.bytes)
            batch.deleteElement(.inet, table, "g_" + group, key: task.address.bytes)
        }
    }
}

/// A task as the node sees it: its address, the MAC of its `eth0`, and the host end of
/// its veth (named in its lease, so teardown needs nothing else).
struct TaskEndpoint {
    var address: IPv4Address
    /// "skv" + the address in hex + 3 random hex digits (14 characters; IFNAMSIZ allows
    /// 15): the veth of an earlier task with the same address may still be on its way out
    /// (see `TaskNetwork.tearDown`), so names are never reused.
    var hostInterface: String

    static let interfacePrefix = "skv"

    init(address: IPv4Address, hostInterface: String) {
        self.address = address
        self.hostInterface = hostInterface
    }

    /// A new endpoint for `address`, with a fresh interface name.
    init(newFor address: IPv4Address) {
        let tag = String(UInt16.random(in: 0...0xfff), radix: 16)
        self.init(address: address, hostInterface: Self.interfacePrefix + address.hex + String(repeating: "0", count: 3 - tag.count) + tag)
    }
    /// Locally administered, 02:73 ("s") + the address.
    var mac: [UInt8] { [0x02, 0x73] + address.bytes }
    var ingressChain: String { "in_" + address.hex }
    var egressChain: String { "out_" + address.hex }
}
