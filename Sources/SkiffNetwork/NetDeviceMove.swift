// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// `linux.netDevices` (runtime-spec 1.3): interfaces of the runtime's network namespace moved
/// into the container's, renamed as asked, with their permanent global addresses, and up.
///
/// Every device is checked before any is moved, so a refusal leaves the node as it was. What
/// the node relies on is refused, naming it: loopback, a bridge or a bridge's port, the link
/// other interfaces are made on (a macvlan's uplink), an interface the node routes through
/// (its default route, any route via a gateway) or whose address is the source of a route of
/// the node's. A device is never moved back: when the container's namespace goes, the kernel
/// returns a physical device to the initial namespace and destroys a virtual one (the spec's
/// choice: the runtime may not be there to do it).
public enum NetDeviceMove {
    /// Moves `devices` (keyed by their name here) into the namespace at `namespacePath`.
    public static func move(_ devices: [String: Spec.NetDevice], intoNamespaceAt namespacePath: String) throws(NetworkError) {
        guard !devices.isEmpty else { return }
        var netlink = try RouteNetlink()
        let node = try NodeView(&netlink)
        let namespace: FileDescriptor
        do throws(SystemError) {
            namespace = try FileDescriptor(opening: namespacePath, O_RDONLY | O_CLOEXEC, step: "opening \(namespacePath)")
        } catch { throw .system(error) }
        var inside = try RouteNetlink(namespace: namespace.rawValue)

        var moves: [(link: RouteNetlink.ListedLink, target: String, field: String)] = []
        for hostName in devices.keys.sorted() {
            let field = "linux.netDevices[\"\(hostName)\"]"
            guard let link = node.links.first(where: { $0.name == hostName }) else {
                throw .badInput(SpecError(field, "there is no interface \"\(hostName)\" in the runtime's network namespace"))
            }
            if let reason = node.refusal(of: link) { throw .badInput(SpecError(field, reason)) }
            let target = devices[hostName]!.name ?? hostName
            // A template is applied once the device is inside, under its own name meanwhile.
            let nameInside = target.contains("%d") ? hostName : target
            if try inside.index(of: nameInside) != nil {
                throw .badInput(SpecError(field, "the container's network namespace has an interface \"\(nameInside)\" already"))
            }
            moves.append((link, target, field))
        }
        for (link, target, field) in moves {
            let template = target.contains("%d")
            try netlink.moveLink(
                index: link.index, into: namespace.rawValue, named: template ? nil : target, step: "moving \(link.name) into the container (\(field))")
            guard let index = try inside.index(of: template ? link.name : target) else {
                throw .system(step: "finding \(link.name) in the container after moving it", errno: ENODEV)
            }
            if template { _ = try inside.rename(index: index, to: target) }
            for address in node.addresses where address.index == link.index && address.isPermanentGlobal {
                try inside.add(address, index: index)
            }
            try inside.setUp(index: index)
        }
    }

    /// The node's links, addresses and routes, read once before anything moves.
    private struct NodeView {
        var links: [RouteNetlink.ListedLink]
        var addresses: [RouteNetlink.LinkAddress]
        var routes: [NodeRoute]
        var ipv6Routes: [RouteNetlink.IPv6Route]

        init(_ node: inout RouteNetlink) throws(NetworkError) {
            links = try node.links()
            addresses = try node.addresses()
            routes = try node.routes()
            ipv6Routes = try node.ipv6Routes()
        }

        func name(of index: Int32) -> String { links.first { $0.index == index }?.name ?? "link \(index)" }

        /// Why `link` must stay where it is, or nil if the node does not rely on it.
        func refusal(of link: RouteNetlink.ListedLink) -> String? {
            if link.flags & UInt32(IFF_LOOPBACK) != 0 { return "\"\(link.name)\" is the node's loopback interface" }
            if link.kind == "bridge" { return "\"\(link.name)\" is a bridge: its ports' traffic would go with it" }
            if let master = link.master { return "\"\(link.name)\" is a port of \(name(of: master)): the node's traffic on it would go with it" }
            // A veth's peer names it as its link too; that is a pair, not an interface built on it.
            let built = links.filter { $0.lower == link.index && $0.kind != "veth" && $0.index != link.index }.map(\.name)
            if !built.isEmpty { return "\"\(link.name)\" carries \(built.joined(separator: ", ")): they would be cut off" }
            for route in routes where route.outputs.contains(link.index) && (route.destination.prefixLength == 0 || !route.gateways.isEmpty) {
                return "\"\(link.name)\" carries the node's route \(route.description(device: link.name)): the node would lose it"
            }
            let own = Set(addresses.filter { $0.index == link.index && $0.family == UInt8(AF_INET) }.compactMap { $0.local.flatMap { IPv4Address(bytes: $0[...]) } })
            for route in routes where !route.outputs.contains(link.index) {
                guard let source = route.preferredSource, own.contains(source) else { continue }
                let device = route.outputs.first.map(name(of:))
                return "\"\(link.name)\" holds \(source), the source address of the node's route \(route.description(device: device))"
            }
            for route in ipv6Routes where route.type == UInt8(RTN_UNICAST) {
                guard route.hops.contains(where: { $0.output == link.index && ($0.gateway != nil || route.prefixLength == 0) }) else { continue }
                return "\"\(link.name)\" carries the node's IPv6 \(route.prefixLength == 0 ? "default route" : "route via a gateway"): the node would lose it"
            }
            return nil
        }
    }
}
