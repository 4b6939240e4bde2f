// SPDX-License-Identifier: Apache-2.0
/// What a change of a bridge's tasks does to its sets: elements deleted, then elements
/// added, in one transaction. Each task's elements are its own (its port, its flows, its
/// groups in `members`): a task joining or leaving changes no other task's.
struct FirewallChanges {
    var deleted = FirewallElements()
    var added = FirewallElements()

    /// The most disjoint elements one set of a task's own rules may take (overlapping rules
    /// are cut into pieces: see `FlowBox`); 4096 rules that do not overlap make at most 4096.
    static let maximumFlows = 4 * NetworkRule.maximumRules

    func apply(_ firewall: TaskFirewall, to batch: inout NFTablesBatch) {
        firewall.delete(deleted, to: &batch)
        firewall.add(added, to: &batch)
    }

    /// `lease` joins its bridge; `groupNumbers` has a number for every group it names.
    static func joining(_ lease: LeaseStore.Lease, groupNumbers: [String: UInt32]) throws(FlowOverflow) -> FirewallChanges {
        FirewallChanges(added: try elements(of: lease, groupNumbers: groupNumbers, limit: maximumFlows))
    }

    /// `leases` (one task's) leave their bridge.
    static func leaving(_ leases: [LeaseStore.Lease], groupNumbers: [String: UInt32]) -> FirewallChanges {
        FirewallChanges(deleted: everything(of: leases, groupNumbers: groupNumbers).added)
    }

    /// Every element of every task: a bridge's sets made again from its leases.
    static func everything(of leases: [LeaseStore.Lease], groupNumbers: [String: UInt32]) -> FirewallChanges {
        var changes = FirewallChanges()
        // Their rules were within the limit when they were made.
        for lease in leases { changes.added.formUnion((try? elements(of: lease, groupNumbers: groupNumbers)) ?? FirewallElements()) }
        return changes
    }

    private static func elements(of lease: LeaseStore.Lease, groupNumbers: [String: UInt32], limit: Int = .max) throws(FlowOverflow) -> FirewallElements {
        let (ingress, egress) = lease.rules
        var elements = FirewallElements.identity(
            of: lease.endpoint, restrictsEgress: lease.restrictsEgress, groups: lease.groups.compactMap { groupNumbers[$0] })
        elements.formUnion(try FirewallElements.flows(of: lease.address, ingress: ingress, egress: egress, groupNumbers: groupNumbers, limit: limit))
        return elements
    }
}
