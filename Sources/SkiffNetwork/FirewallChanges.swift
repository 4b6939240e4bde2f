/// What a change of a bridge's tasks does to its sets: elements deleted, then elements
/// added, in one transaction.
///
/// A task's flows depend on who is in the groups its rules name, so a task that joins or
/// leaves changes the flows of every task with a rule naming one of its groups: those are
/// recomputed before and after, and only the difference goes to the kernel.
struct FirewallChanges {
    var deleted = FirewallElements()
    var added = FirewallElements()

    /// The most disjoint flows one direction of a task's own rules may make (overlapping
    /// rules are cut into pieces: see `FlowBox`); 4096 rules that do not overlap make 4096.
    static let maximumFlows = 4 * NetworkRule.maximumRules

    func apply(_ firewall: TaskFirewall, to batch: inout NFTablesBatch) {
        firewall.delete(deleted, to: &batch)
        firewall.add(added, to: &batch)
    }

    /// `lease` joins a bridge whose tasks are `others`.
    static func joining(_ lease: LeaseStore.Lease, others: [LeaseStore.Lease]) throws(FlowOverflow) -> FirewallChanges {
        let all = others + [lease]
        var changes = FirewallChanges()
        changes.added = .identity(of: lease.endpoint, restrictsEgress: lease.egress != nil)
        changes.added.formUnion(try flows(of: lease, among: all, limit: maximumFlows))
        for other in others where other.references(anyOf: lease.groups) {
            changes.recompute(other, from: others, to: all)
        }
        return changes
    }

    /// `leaving` (one task's leases) leave a bridge whose tasks are `all`.
    static func leaving(_ leaving: [LeaseStore.Lease], all: [LeaseStore.Lease]) -> FirewallChanges {
        let owners = Set(leaving.map(\.owner))
        let remaining = all.filter { !owners.contains($0.owner) }
        var changes = FirewallChanges()
        for lease in leaving {
            changes.deleted.formUnion(.identity(of: lease.endpoint, restrictsEgress: lease.egress != nil))
            changes.deleted.formUnion((try? flows(of: lease, among: all)) ?? FirewallElements())
        }
        let groups = Array(Set(leaving.flatMap(\.groups)))
        for other in remaining where other.references(anyOf: groups) {
            changes.recompute(other, from: all, to: remaining)
        }
        return changes
    }

    /// Every element of every task: a bridge's sets made again from its leases.
    static func everything(of leases: [LeaseStore.Lease]) -> FirewallChanges {
        var changes = FirewallChanges()
        for lease in leases {
            changes.added.formUnion(.identity(of: lease.endpoint, restrictsEgress: lease.egress != nil))
            changes.added.formUnion((try? flows(of: lease, among: leases)) ?? FirewallElements())
        }
        return changes
    }

    private mutating func recompute(_ lease: LeaseStore.Lease, from before: [LeaseStore.Lease], to after: [LeaseStore.Lease]) {
        let old = (try? Self.flows(of: lease, among: before)) ?? FirewallElements()
        let new = (try? Self.flows(of: lease, among: after)) ?? FirewallElements()
        deleted.formUnion(old.subtracting(new))
        added.formUnion(new.subtracting(old))
    }

    private static func flows(of lease: LeaseStore.Lease, among leases: [LeaseStore.Lease], limit: Int = .max) throws(FlowOverflow) -> FirewallElements {
        let (ingress, egress) = lease.rules
        return try FirewallElements.flows(
            of: lease.address, ingress: ingress, egress: egress,
            members: { group in leases.filter { $0.groups.contains(group) }.map(\.address) }, limit: limit)
    }
}
