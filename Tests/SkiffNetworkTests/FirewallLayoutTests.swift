// SPDX-License-Identifier: Apache-2.0
import CShims
import SkiffSpec
import Testing

@testable import SkiffNetwork

/// The firewall's layout as nftables batches, decided without a kernel: what a bridge's
/// skeleton holds, which elements a task adds and takes away, and how its rules become flows.
@Suite("firewall layout")
struct FirewallLayoutTests {
    static func type(of message: NetlinkMessage) -> UInt16 { (UInt16(message.bytes[4]) | UInt16(message.bytes[5]) << 8) & 0xff }

    static func lease(_ address: String, groups: [String] = [], ingress: String = "", egress: String? = nil) -> LeaseStore.Lease {
        LeaseStore.Lease(
            address: IPv4Address(address)!, owner: "/r/\(address)", groups: groups, interface: "skv" + IPv4Address(address)!.hex + "abc", ingress: ingress, egress: egress
        )
    }

    @Test func aBridgesSkeletonIsTwoTablesEverySetAndFixedChains() {
        var batch = NFTablesBatch()
        TaskFirewall(bridge: "skiff0").addSkeleton(to: &batch)
        let types = batch.messages.map(Self.type)
        #expect(types.filter { $0 == UInt16(NFT_MSG_NEWTABLE.rawValue) }.count == 2)
        #expect(types.filter { $0 == UInt16(NFT_MSG_NEWSET.rawValue) }.count == FirewallSet.allCases.count)
        #expect(types.contains(UInt16(NFT_MSG_NEWCHAIN.rawValue)) && types.contains(UInt16(NFT_MSG_NEWRULE.rawValue)))
        #expect(!types.contains(UInt16(NFT_MSG_NEWSETELEM.rawValue)))
        // The same skeleton twice: a reload's rebuild adds exactly what the first did.
        var again = NFTablesBatch()
        TaskFirewall(bridge: "skiff0").addSkeleton(to: &again)
        #expect(again.messages.count == batch.messages.count)
    }

    /// Each group has two rules a direction (without and with ports), remade whole: the
    /// chains are flushed first, so a bridge renumbered after its last task left keeps no
    /// rules of old numbers. The group's number is a constant of its rules.
    @Test func eachGroupHasTwoRulesADirection() {
        var batch = NFTablesBatch()
        TaskFirewall(bridge: "skiff0").replaceGroupRules(count: 3, in: &batch)
        let types = batch.messages.map(Self.type)
        #expect(types.filter { $0 == UInt16(NFT_MSG_DELRULE.rawValue) }.count == 2)
        #expect(types.filter { $0 == UInt16(NFT_MSG_NEWRULE.rawValue) }.count == 3 * 2 * 2)
        var none = NFTablesBatch()
        TaskFirewall(bridge: "skiff0").replaceGroupRules(count: 0, in: &none)
        #expect(none.messages.map(Self.type) == [UInt16(NFT_MSG_DELRULE.rawValue), UInt16(NFT_MSG_DELRULE.rawValue)])
        // A restore adds them to chains just made: nothing to flush.
        var restored = NFTablesBatch()
        TaskFirewall(bridge: "skiff0").replaceGroupRules(count: 1, in: &restored, flushing: false)
        #expect(restored.messages.map(Self.type).allSatisfy { $0 == UInt16(NFT_MSG_NEWRULE.rawValue) })
        // In `members` the number is host order (a mark, as nft prints it); in the interval
        // sets big-endian, as nft keeps a mark field of an interval.
        #expect(FirewallElements.memberBytes(1) == NetlinkMessage.bytes(of: UInt32(1)))
        #expect(FirewallElements.groupBytes(1) == [0, 0, 0, 1])
    }

    @Test func eachBridgeHasItsOwnTablesAndPortGroup() {
        #expect(TaskFirewall(bridge: "skiff0").table == "skiff_skiff0")
        #expect(TaskFirewall.portGroup(of: "skiff0") != TaskFirewall.portGroup(of: "skiff1"))
        #expect(TaskFirewall.portGroup(of: "skiff0") == TaskFirewall.portGroup(of: "skiff0"))
        // Never 0, the group every interface starts in.
        #expect((0..<2000).allSatisfy { TaskFirewall.portGroup(of: "br\($0)") != 0 })
    }

    @Test func anInterfaceKeyIsItsNamePaddedToIFNAMSIZ() {
        let key = TaskFirewall.interfaceKey("skv0a4d0005abc")
        #expect(key.count == NFTablesBatch.FieldType.interfaceName.length)
        #expect(Array(key.prefix(14)) == Array("skv0a4d0005abc".utf8) && key.dropFirst(14).allSatisfy { $0 == 0 })
    }

    @Test func aTasksIdentityPinsItsAddressToItsPort() {
        let task = TaskEndpoint(address: IPv4Address("10.77.0.5")!, hostInterface: "skv0a4d0005abc")
        let open = FirewallElements.identity(of: task, restrictsEgress: false, groups: [])
        #expect(open.sets[.ports]?.count == 1 && open.sets[.senders]?.count == 1 && open.sets[.arpSenders]?.count == 1)
        #expect(open.sets[.receivers]?.count == 1 && open.sets[.ingressTasks] == [.init(key: [10, 77, 0, 5])])
        #expect(open.sets[.egressTasks] == nil)
        let sealed = FirewallElements.identity(of: task, restrictsEgress: true, groups: [3, 7])
        #expect(sealed.sets[.egressTasks] == [.init(key: [10, 77, 0, 5])])
        #expect(sealed.sets[.members] == [.init(key: [10, 77, 0, 5, 3, 0, 0, 0]), .init(key: [10, 77, 0, 5, 7, 0, 0, 0])])
    }

    @Test func aTasksMACIsLocallyAdministeredFromItsAddress() {
        let task = TaskEndpoint(newFor: IPv4Address("10.77.1.2")!)
        #expect(task.mac == [0x02, 0x73, 10, 77, 1, 2])
        #expect(task.hostInterface.hasPrefix("skv0a4d0102") && task.hostInterface.count == 14)
        #expect(TaskEndpoint(newFor: IPv4Address("10.77.1.2")!).hostInterface.count <= 15)
    }

    @Test func oneAddressAndOnePortIsAnExactElement() throws {
        let changes = try FirewallChanges.joining(Self.lease("10.77.0.5", ingress: "tcp 80 10.77.0.9"), groupNumbers: [:])
        #expect(changes.added.sets[.ingressExact]?.count == 1)
        #expect(changes.added.sets[.ingressPorts] == nil)
    }

    @Test func aRangeOfPeersIsAnIntervalElement() throws {
        let changes = try FirewallChanges.joining(Self.lease("10.77.0.5", ingress: "tcp 80-90 10.0.0.0/8"), groupNumbers: [:])
        let element = try #require(changes.added.sets[.ingressPorts]?.first)
        // task . peer . protocol . port, from the range's start to its end.
        #expect(Array(element.key.prefix(8)) == [10, 77, 0, 5, 10, 0, 0, 0])
        #expect(element.end.map { Array($0.prefix(8)) } == [10, 77, 0, 5, 10, 255, 255, 255])
    }

    @Test func aRuleWithoutPortsCoversEveryPortOfItsProtocol() throws {
        let changes = try FirewallChanges.joining(Self.lease("10.77.0.5", ingress: "icmp 10.77.0.0/16"), groupNumbers: [:])
        #expect(changes.added.sets[.ingress]?.count == 1)
        #expect(changes.added.sets[.ingressPorts] == nil)
    }

    @Test func withoutAnEgressAnnotationEgressIsOpen() throws {
        let open = try FirewallChanges.joining(Self.lease("10.77.0.5"), groupNumbers: [:])
        #expect(open.added.sets[.egressTasks] == nil)
        let sealed = try FirewallChanges.joining(Self.lease("10.77.0.5", egress: ""), groupNumbers: [:])
        #expect(sealed.added.sets[.egressTasks]?.count == 1)
        #expect(sealed.added.sets[.egress] == nil && sealed.added.sets[.egressPorts] == nil)
    }

    @Test func everythingOfTheLeasesIsTheirJoiningsTogether() throws {
        let leases = [Self.lease("10.77.0.2", groups: ["web"]), Self.lease("10.77.0.3", groups: ["db"], ingress: "tcp 5432 web")]
        let numbers: [String: UInt32] = ["web": 1, "db": 2]
        var union = FirewallElements()
        for lease in leases { union.formUnion(try FirewallChanges.joining(lease, groupNumbers: numbers).added) }
        #expect(FirewallChanges.everything(of: leases, groupNumbers: numbers).added == union)
    }

    @Test func leavingDeletesExactlyWhatJoiningAdded() throws {
        let lease = Self.lease("10.77.0.9", groups: ["a", "b"], ingress: "tcp 22 10.0.0.0/8; udp 53 a", egress: "tcp 443 0.0.0.0/0")
        let numbers: [String: UInt32] = ["a": 1, "b": 2]
        let joined = try FirewallChanges.joining(lease, groupNumbers: numbers)
        let left = FirewallChanges.leaving([lease], groupNumbers: numbers)
        #expect(left.deleted == joined.added && left.added.isEmpty)
        var batch = NFTablesBatch()
        left.apply(TaskFirewall(bridge: "skiff0"), to: &batch)
        #expect(Set(batch.messages.map(Self.type)) == [UInt16(NFT_MSG_DELSETELEM.rawValue)])
    }

    @Test func rulesThatCannotBeMadeDisjointWithinTheLimitAreRefused() throws {
        // Two ranges that overlap in part: their disjoint cover takes more elements than rules.
        let rules = try NetworkRule.list("tcp 80-90 10.0.0.0/9; tcp 85-95 10.0.0.0/8", field: "ingress")
        let address = IPv4Address("10.77.0.5")!
        let cover = try FirewallElements.flows(of: address, ingress: rules, egress: nil, groupNumbers: [:])
        let count = try #require(cover.sets[.ingressPorts]?.count)
        #expect(count >= 2)
        do {
            _ = try FirewallElements.flows(of: address, ingress: rules, egress: nil, groupNumbers: [:], limit: count - 1)
            Issue.record("\(count) elements passed a limit of \(count - 1)")
        } catch {
            #expect(error.isIngress && error.elements == count)
        }
        #expect(FirewallChanges.maximumFlows == 4 * NetworkRule.maximumRules)
    }
}
