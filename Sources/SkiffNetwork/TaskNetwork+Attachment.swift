// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// A task's network as another runtime attaches it (the CNI plugin): set up and torn down by
/// the owner's name, and checked against its lease.
extension TaskNetwork {
    /// The lease `owner` holds on `bridge` in the lease directory `leases`, if any.
    public static func lease(of owner: String, bridge: String, leases: String) throws(NetworkError) -> (address: IPv4Address, hostInterface: String)? {
        let store = try LeaseStore(directory: leases, bridge: bridge)
        return store.leases(heldBy: owner).first.map { ($0.address, $0.interface) }
    }

    /// Removes the files of every bridge in the lease directory `leases` that hold no lease
    /// (what a setup killed before it wrote its lease leaves), skipping any bridge whose lock
    /// is held (a setup under way), and the directory when that leaves it empty (a setup
    /// killed between making it and its lock file; one starting now makes it again, as after
    /// the last lease's release).
    public static func sweep(leases: String) {
        for file in listDirectory(leases) where file.hasSuffix(".lock") {
            let bridge = String(file.dropLast(".lock".count))
            guard let store = try? LeaseStore(directory: leases, bridge: bridge, waiting: false), store.leases.isEmpty else { continue }
            try? store.save()
        }
        rmdir(leases)  // only if empty
    }

    /// What a CNI CHECK asks: is the task's network still what setting it up made? Its lease,
    /// the host end of its veth on the bridge, its interface in `namespacePath` with its address
    /// and default route, and every element of its rules in the bridge's tables. Throws the
    /// first thing found missing.
    public static func verify(
        _ config: NetworkConfig, owner: String, leases: String, namespacePath: String, interface: String
    ) throws(NetworkError) {
        let store = try LeaseStore(directory: leases, bridge: config.bridge)
        guard let lease = store.leases(heldBy: owner).first else {
            throw .system(step: "checking the network of \(owner)", errno: ENOENT, detail: "it holds no lease on \(config.bridge)")
        }
        var node = try RouteNetlink()
        guard let bridge = try node.index(of: config.bridge) else {
            throw .system(step: "checking bridge \(config.bridge)", errno: ENODEV, detail: "it is gone")
        }
        guard try node.ports(ofBridge: bridge).contains(lease.interface) else {
            throw .system(step: "checking \(lease.interface)", errno: ENODEV, detail: "the host end of the veth is not on \(config.bridge)")
        }
        let firewall = TaskFirewall(bridge: config.bridge)
        let task = TaskEndpoint(address: lease.address, hostInterface: lease.interface)
        let groups = lease.groups.compactMap { store.groupNumbers[$0] }
        var expected = FirewallElements.identity(of: task, restrictsEgress: lease.rules.egress != nil, groups: groups)
        do throws(FlowOverflow) {
            let rules = lease.rules
            expected.formUnion(try FirewallElements.flows(of: lease.address, ingress: rules.ingress, egress: rules.egress, groupNumbers: store.groupNumbers))
        } catch { throw .system(step: "checking the rules of \(lease.address)", errno: E2BIG) }
        guard try firewall.isWhole(), try firewall.holds(expected) else {
            throw .system(step: "checking the rules of \(lease.address) on \(config.bridge)", errno: ENOENT, detail: "some of its rules are gone from \(firewall.table)")
        }
        let namespace: FileDescriptor
        do throws(SystemError) { namespace = try FileDescriptor(opening: namespacePath, O_RDONLY, step: "opening \(namespacePath)") } catch {
            throw .system(error)
        }
        var inside = try RouteNetlink(namespace: namespace.rawValue)
        guard let link = try inside.link(named: interface) else {
            throw .system(step: "checking \(interface) in \(namespacePath)", errno: ENODEV, detail: "the interface is gone")
        }
        let routes = try inside.routes()
        guard routes.contains(where: { Int($0.type) == RTN_LOCAL && $0.destination.network == lease.address && $0.outputs.contains(link.index) }) else {
            throw .system(step: "checking \(interface) in \(namespacePath)", errno: EADDRNOTAVAIL, detail: "it no longer has \(lease.address)")
        }
        guard routes.contains(where: { $0.destination.prefixLength == 0 && $0.gateways.contains(config.subnet.gateway) }) else {
            throw .system(step: "checking the routes in \(namespacePath)", errno: ENETUNREACH, detail: "no default route via \(config.subnet.gateway)")
        }
    }
}
