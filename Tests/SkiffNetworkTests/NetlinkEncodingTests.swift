// SPDX-License-Identifier: Apache-2.0
import CShims
import SkiffSpec
import Testing

@testable import SkiffNetwork

/// The bytes skiff puts on netlink, checked against what the kernel's headers say: attribute
/// layout and alignment, nesting, and the nf_tables messages of a task's rules.
@Suite("netlink and nf_tables encoding")
struct NetlinkEncodingTests {
    /// Reads back (type, payload) attributes from `bytes`, from `offset` on.
    func attributes(_ bytes: [UInt8], from offset: Int) -> [(type: UInt16, payload: [UInt8])] {
        var result: [(UInt16, [UInt8])] = []
        var at = offset
        while at + 4 <= bytes.count {
            let length = Int(bytes[at]) | Int(bytes[at + 1]) << 8
            let type = UInt16(bytes[at + 2]) | UInt16(bytes[at + 3]) << 8
            guard length >= 4, at + length <= bytes.count else { break }
            result.append((type, Array(bytes[(at + 4)..<(at + length)])))
            at += (length + 3) & ~3
        }
        return result
    }

    @Test func attributesAreLengthTypeValueAlignedToFour() {
        var message = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK, fixed: [0, 0, 0, 0])
        message.put(UInt16(IFLA_IFNAME), string: "skiff0")  // 7 bytes + 4 of header: padded to 12
        message.put(UInt16(IFLA_MTU), u32: 1500)
        message.finish(sequence: 42)
        let bytes = message.bytes
        #expect(bytes.count == 16 + 4 + 12 + 8)
        #expect(bytes[0] == UInt8(bytes.count))  // nlmsg_len
        #expect(UInt16(bytes[4]) | UInt16(bytes[5]) << 8 == UInt16(RTM_NEWLINK))
        let flags = Int(UInt16(bytes[6]) | UInt16(bytes[7]) << 8)
        #expect(flags & SKIFF_NLM_F_REQUEST != 0 && flags & SKIFF_NLM_F_ACK != 0)
        #expect(bytes[8] == 42)  // sequence
        let found = attributes(bytes, from: 20)
        #expect(found.map(\.type) == [UInt16(IFLA_IFNAME), UInt16(IFLA_MTU)])
        #expect(found[0].payload == Array("skiff0".utf8) + [0])
        #expect(found[1].payload == [0xdc, 0x05, 0, 0])
        #expect(message.wantsAck)
    }

    @Test func nestedAttributesCarryTheNestedFlagAndTheirWholeLength() {
        var message = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: 0)
        message.nest(UInt16(IFLA_LINKINFO)) { $0.put(UInt16(IFLA_INFO_KIND), string: "bridge") }
        message.finish(sequence: 1)
        let outer = attributes(message.bytes, from: 16)
        #expect(outer.count == 1)
        #expect(outer[0].type == UInt16(IFLA_LINKINFO) | UInt16(SKIFF_NLA_F_NESTED))
        let inner = attributes(outer[0].payload, from: 0)
        #expect(inner.map(\.type) == [UInt16(IFLA_INFO_KIND)])
        #expect(inner[0].payload == Array("bridge".utf8) + [0])
        #expect(!message.wantsAck)
    }

    /// A task's transaction adds only set elements: no chain and no rule, which would make
    /// the kernel revalidate every chain of the table (the cost of a create would then grow
    /// with the tasks on the bridge).
    @Test func aTaskAddsOnlySetElements() throws {
        let config = try #require(
            try NetworkConfig.parse(annotations: [
                "io.skiff.network.groups": "db",
                "io.skiff.network.ingress": "tcp 5432 web; udp 53,5353 10.0.0.0/8; icmp web",
                "io.skiff.network.egress": "tcp 443 0.0.0.0/0",
            ]))
        let db = LeaseStore.Lease(config, address: IPv4Address("10.77.0.5")!, owner: "/run/skiff/db", interface: "skv0a4d0005abc")
        let changes = try FirewallChanges.joining(db, groupNumbers: ["db": 1, "web": 2])
        var batch = NFTablesBatch()
        changes.apply(TaskFirewall(bridge: "skiff0"), to: &batch)
        let types = Set(batch.messages.map { (UInt16($0.bytes[4]) | UInt16($0.bytes[5]) << 8) & 0xff })
        #expect(types == [UInt16(NFT_MSG_NEWSETELEM.rawValue)])
        // tcp 5432 and icmp from web: by web's number; 10/8 is a range, one element for each
        // of udp's two ports; 0.0.0.0/0 too.
        #expect(changes.added.sets[.ingressGroupPorts]?.count == 1)
        #expect(changes.added.sets[.ingressGroups]?.count == 1)
        #expect(changes.added.sets[.ingressPorts]?.count == 2)
        #expect(changes.added.sets[.egressPorts]?.count == 1)
        #expect(changes.added.sets[.egressTasks]?.count == 1)
        #expect(changes.added.sets[.members] == [.init(key: [10, 77, 0, 5, 1, 0, 0, 0])])
        #expect(changes.deleted.isEmpty)
    }

    /// A rule naming a group is one element, by the group's number; a task joining the group
    /// is one element of `members` (address . number), and touches no other task's elements.
    @Test func aGroupIsANumberAndItsMembersAreElements() throws {
        let db = LeaseStore.Lease(
            address: IPv4Address("10.77.0.5")!, owner: "/r/db", groups: ["db"], interface: "skv0a4d0005abc", ingress: "tcp 5432 web")
        let web = LeaseStore.Lease(address: IPv4Address("10.77.0.2")!, owner: "/r/web", groups: ["other", "web"], interface: "skv0a4d0002abc")
        let numbers: [String: UInt32] = ["db": 1, "web": 2, "other": 3]
        let dbRules = try #require(try FirewallChanges.joining(db, groupNumbers: numbers).added.sets[.ingressGroupPorts])
        #expect(dbRules == [.init(key: [10, 77, 0, 5, 0, 0, 0, 2, 6, 0, 0, 0, 0x15, 0x38, 0, 0], end: [10, 77, 0, 5, 0, 0, 0, 2, 6, 0, 0, 0, 0x15, 0x38, 0, 0])])
        let joined = try FirewallChanges.joining(web, groupNumbers: numbers)
        #expect(joined.added.sets[.members] == [.init(key: [10, 77, 0, 2, 3, 0, 0, 0]), .init(key: [10, 77, 0, 2, 2, 0, 0, 0])])
        #expect(joined.added.sets[.ingressGroupPorts] == nil)
        let left = FirewallChanges.leaving([web], groupNumbers: numbers)
        #expect(left.deleted == joined.added)
        #expect(left.added.isEmpty)
    }

    /// More groups than the member maps hold are refused, naming the annotation.
    @Test func atMostEightGroups() {
        let nine = (1...9).map { "g\($0)" }.joined(separator: ",")
        #expect(throws: SpecError.self) { try NetworkConfig.parse(annotations: ["io.skiff.network.groups": nine]) }
        #expect((try? NetworkConfig.parse(annotations: ["io.skiff.network.groups": "a,b,c,d,e,f,g,h"]))??.groups.count == 8)
    }

    /// Overlapping rules become disjoint elements that cover exactly their union (checked
    /// point by point on small boxes against the rules themselves).
    @Test func overlappingRulesBecomeADisjointCover() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let boxes = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                FlowBox(
                    (0..<3).map { _ in
                        let a = UInt32.random(in: 0...7, using: &generator), b = UInt32.random(in: 0...7, using: &generator)
                        return min(a, b)...max(a, b)
                    })
            }
            let cover = FlowBox.disjointUnion(of: boxes)
            for x in UInt32(0)...8 {
                for y in UInt32(0)...8 {
                    for z in UInt32(0)...8 {
                        let point = [x, y, z]
                        func holds(_ box: FlowBox) -> Bool { zip(box.ranges, point).allSatisfy { $0.contains($1) } }
                        let inRules = boxes.contains(where: holds)
                        let inCover = cover.filter(holds).count
                        #expect(inCover == (inRules ? 1 : 0), "\(boxes) -> \(cover) at \(point)")
                    }
                }
            }
        }
        // Rules that do not overlap stay one element each.
        let apart = (0..<100).map { FlowBox([UInt32($0 * 2)...UInt32($0 * 2), 6...6, 80...80]) }
        #expect(FlowBox.disjointUnion(of: apart).count == 100)
    }

    /// Owners and rules are %-escaped in the lease file and read back as they were.
    @Test func leaseFieldsRoundTrip() {
        for text in ["/run/skiff/db", "/tmp/a b/c%20d", "tcp 80 web; udp 53 10.0.0.0/8", "100%", "%", "a\tb\nc", ""] {
            #expect(LeaseStore.unescape(Substring(LeaseStore.escape(text))) == text)
        }
        #expect(LeaseStore.escape("/tmp/a b%") == "/tmp/a%20b%25")
    }

    /// A rule's text in the lease parses back to the same rule.
    @Test func rulesRoundTripThroughTheirText() throws {
        let text = "tcp 80,8000-8080 web; udp 53 10.0.0.0/8; icmp 0.0.0.0/0; any db"
        let rules = try NetworkRule.list(text, field: "f")
        #expect(rules.map(\.description).joined(separator: "; ") == text)
    }

    /// The operator's policy file: `join-bridge NAME` lines; anything else names its line.
    @Test func theNodePolicyIsStrict() throws {
        let policy = try NodeNetworkPolicy.parse("# bridges\njoin-bridge docker0\n\njoin-bridge br0 # uplink\n", path: "/p")
        #expect(policy.joinableBridges == ["docker0", "br0"])
        for bad in ["join docker0", "join-bridge", "join-bridge a b", "join-bridge ../x", "join-bridge 0123456789abcdef"] {
            #expect(throws: SpecError.self) { try NodeNetworkPolicy.parse(bad, path: "/p") }
        }
        do {
            _ = try NodeNetworkPolicy.parse("join-bridge ok\nallow-all\n", path: "/etc/skiff/network.conf")
            Issue.record("accepted")
        } catch { #expect(error.description.hasPrefix("/etc/skiff/network.conf:2: ")) }
    }
}
