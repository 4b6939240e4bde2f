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

    /// A task's rules: every message is an nf_tables one of the bridge's tables, and each port
    /// range of a rule is one rule.
    @Test func aTasksRulesAreOneMessageAPortRange() throws {
        let config = try #require(
            try NetworkConfig.parse(annotations: [
                "io.skiff.network.groups": "db",
                "io.skiff.network.ingress": "tcp 5432 web; udp 53,5353 10.0.0.0/8; icmp web",
                "io.skiff.network.egress": "tcp 443 0.0.0.0/0",
            ]))
        let firewall = TaskFirewall(bridge: "skiff0")
        var batch = NFTablesBatch()
        firewall.addTask(TaskEndpoint(newFor: IPv4Address("10.77.0.5")!), config, to: &batch)
        let types = batch.messages.map { (UInt16($0.bytes[4]) | UInt16($0.bytes[5]) << 8) }
        #expect(types.allSatisfy { $0 >> 8 == UInt16(SKIFF_NFNL_SUBSYS_NFTABLES) })
        let rules = types.filter { $0 & 0xff == UInt16(NFT_MSG_NEWRULE.rawValue) }.count
        // ingress: 1 + 2 (two port ranges) + 1; egress: 1; plus the task's fixed rules.
        #expect(rules >= 5, "\(rules) rules")
        var more = NFTablesBatch()
        let wider = try #require(
            try NetworkConfig.parse(annotations: [
                "io.skiff.network.groups": "db",
                "io.skiff.network.ingress": "tcp 5432 web; udp 53,5353,6000-6010 10.0.0.0/8; icmp web",
                "io.skiff.network.egress": "tcp 443 0.0.0.0/0",
            ]))
        firewall.addTask(TaskEndpoint(newFor: IPv4Address("10.77.0.5")!), wider, to: &more)
        let widerRules = more.messages.filter { ($0.bytes[4] == UInt8(NFT_MSG_NEWRULE.rawValue)) }.count
        #expect(widerRules == rules + 1)
    }
}
