// SPDX-License-Identifier: Apache-2.0
import CShims
import SkiffSpec

/// One IPv4 route of the node, as rtnetlink lists it: a connected network, a static route,
/// a default route, or (in the local table) one of the node's own addresses.
struct NodeRoute {
    /// 0.0.0.0/0 for a default route.
    var destination: IPv4Subnet
    /// RTN_UNICAST, RTN_LOCAL, RTN_BLACKHOLE, ...
    var type: UInt8
    /// The links it leaves by (several for a multipath route; none for a blackhole).
    var outputs: [Int32] = []
    var gateways: [IPv4Address] = []

    /// The address the node's packets on this route leave from (`src` in `ip route`).
    var preferredSource: IPv4Address?

    /// From an RTM_NEWROUTE reply: struct rtmsg (dst_len at 1, type at 7), then attributes.
    init?(rtmsg reply: NetlinkReply) {
        let fixed = reply.payload.startIndex
        let length = Int(reply.payload[fixed + 1])
        guard length <= 32 else { return nil }
        type = reply.payload[fixed + 7]
        let attributes = reply.attributes(after: 12)
        let address = attributes[UInt16(RTA_DST.rawValue)].flatMap { IPv4Address(bytes: $0) } ?? IPv4Address(0)
        destination = IPv4Subnet(holding: address, prefixLength: length)
        for hop in Self.hops(attributes) {
            outputs.append(hop.output)
            if let gateway = hop.gateway.flatMap({ IPv4Address(bytes: $0) }) { gateways.append(gateway) }
        }
        preferredSource = attributes[UInt16(RTA_PREFSRC.rawValue)].flatMap { IPv4Address(bytes: $0) }
    }

    /// Where a route of either family leaves: its output link and gateway, or each of a
    /// multipath route's (struct rtnexthop: length u16, flags, hops, ifindex i32, then its
    /// own attributes).
    static func hops(_ attributes: [UInt16: ArraySlice<UInt8>]) -> [(output: Int32, gateway: ArraySlice<UInt8>?)] {
        var hops: [(output: Int32, gateway: ArraySlice<UInt8>?)] = []
        if let output = attributes[UInt16(RTA_OIF.rawValue)], output.count == 4 {
            hops.append((NetlinkReply(type: 0, payload: output).int32(at: 0), attributes[UInt16(RTA_GATEWAY.rawValue)]))
        }
        if let multipath = attributes[UInt16(RTA_MULTIPATH.rawValue)] {
            var offset = multipath.startIndex
            while offset + 8 <= multipath.endIndex {
                let hopLength = Int(multipath[offset]) | Int(multipath[offset + 1]) << 8
                guard hopLength >= 8, offset + hopLength <= multipath.endIndex else { break }
                let hop = NetlinkReply(type: 0, payload: multipath[offset..<(offset + hopLength)])
                hops.append((hop.int32(at: 4), hop.attributes(after: 8)[UInt16(RTA_GATEWAY.rawValue)]))
                offset += (hopLength + 3) & ~3
            }
        }
        return hops
    }

    /// As `ip route` prints it: `10.60.0.0/24 dev eth0`, `local 10.60.0.5 dev eth0`,
    /// `default via 10.70.0.1 dev eth0`.
    func description(device: String?) -> String {
        let kinds: [Int: String] = [
            RTN_LOCAL: "local ", RTN_BROADCAST: "broadcast ", RTN_BLACKHOLE: "blackhole ",
            RTN_UNREACHABLE: "unreachable ", RTN_PROHIBIT: "prohibit ",
        ]
        var text = kinds[Int(type)] ?? ""
        text += destination.prefixLength == 0 ? "default" : destination.prefixLength == 32 ? destination.network.description : destination.description
        if let gateway = gateways.first { text += " via \(gateway)" }
        if let device { text += " dev \(device)" }
        return text
    }
}

extension TaskNetwork {
    /// A subnet skiff puts on a bridge becomes a route of the node, and the node's packets to
    /// it go to the tasks. A tenant's annotation must not take traffic the node sends
    /// somewhere else today: the subnet may overlap no route of the node but a default route
    /// (a connected network, a static route, one of its own addresses, another bridge's
    /// tasks) and hold no route's gateway (the node's router). `bridge`: the bridge's own
    /// index, whose routes are the subnet's already. Names the first such route.
    static func checkSubnetIsFree(_ subnet: IPv4Subnet, bridge: Int32?, node: inout RouteNetlink) throws(NetworkError) {
        for route in try node.routes() {
            if let bridge, !route.outputs.isEmpty, route.outputs.allSatisfy({ $0 == bridge }) { continue }
            let overlaps = route.destination.prefixLength > 0 && route.destination.overlaps(subnet)
            let gateway = route.gateways.first { subnet.contains($0) }
            guard overlaps || gateway != nil else { continue }
            var device: String?
            if let output = route.outputs.first { device = try node.name(ofLink: output) }
            let described = route.description(device: device)
            let conflict =
                if let gateway, !overlaps { "holds \(gateway), the gateway of the node's route \(described)" } else {
                    "overlaps the node's route \(described)"
                }
            throw .badInput(
                SpecError("annotations[\"\(NetworkConfig.prefix)subnet\"]", "\(subnet) \(conflict): a task subnet must not take traffic the node routes elsewhere"))
        }
    }
}
