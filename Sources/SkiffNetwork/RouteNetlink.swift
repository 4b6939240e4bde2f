// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc

/// The rtnetlink requests a task's network needs: bridge, veth pair, addresses, links up,
/// default route, and removal. Made in the namespace the socket belongs to.
struct RouteNetlink: ~Copyable {
    var socket: NetlinkSocket
    /// Whether the socket is of the calling thread's network namespace (whose /proc/sys/net
    /// this process sees).
    let isThisNamespace: Bool

    /// rtnetlink in this process's network namespace, or in the one `namespace` refers to.
    init(namespace: Int32? = nil) throws(NetworkError) {
        socket = try NetlinkSocket(protocol: NETLINK_ROUTE, namespace: namespace)
        isThisNamespace = namespace == nil
    }

    /// struct ifinfomsg: family, type, index, flags, change.
    static func linkHeader(index: Int32 = 0, up: Bool = false) -> [UInt8] {
        [UInt8(AF_UNSPEC), 0, 0, 0] + NetlinkMessage.bytes(of: index)
            + NetlinkMessage.bytes(of: UInt32(up ? IFF_UP : 0)) + NetlinkMessage.bytes(of: UInt32(up ? IFF_UP : 0))
    }

    /// The index of the link called `name`, or nil if there is none.
    mutating func index(of name: String) throws(NetworkError) -> Int32? {
        var request = NetlinkMessage(type: UInt16(RTM_GETLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader())
        request.put(UInt16(IFLA_IFNAME), string: name)
        do throws(NetworkError) {
            let replies = try socket.perform([request], step: "looking up \(name)")
            return replies.first { $0.type == UInt16(RTM_NEWLINK) }.map { $0.int32(at: 4) }
        } catch {
            if error.errno == ENODEV { return nil }
            throw error
        }
    }

    /// What the node has under `name`: its index, its kind (`bridge`, `veth`; nil for a plain
    /// device such as `lo` or a NIC) and its alias. nil if there is no such link.
    struct Link {
        var index: Int32
        var kind: String?
        var alias: String?
        var isUp = false

        /// What a `createBridge` killed between making the bridge and marking it leaves: a
        /// bridge under skiff's prefix, still down, unmarked. Nobody else makes bridges under
        /// that prefix and leaves them down, so skiff takes it as its own (`markBridge`).
        func isUnmarkedBridgeOfSkiff(named name: String) -> Bool {
            kind == "bridge" && (alias ?? "").isEmpty && !isUp && name.hasPrefix(RouteNetlink.bridgeNamePrefix)
        }
    }

    mutating func link(named name: String) throws(NetworkError) -> Link? {
        var request = NetlinkMessage(type: UInt16(RTM_GETLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader())
        request.put(UInt16(IFLA_IFNAME), string: name)
        let replies: [NetlinkReply]
        do throws(NetworkError) { replies = try socket.perform([request], step: "looking up \(name)") } catch {
            if error.errno == ENODEV { return nil }
            throw error
        }
        guard let reply = replies.first(where: { $0.type == UInt16(RTM_NEWLINK) }) else { return nil }
        let attributes = reply.attributes(after: 16)
        let info = attributes[UInt16(IFLA_LINKINFO)].map { NetlinkReply(type: 0, payload: $0).attributes(after: 0) }
        return Link(
            index: reply.int32(at: 4), kind: Self.text(info?[UInt16(IFLA_INFO_KIND)]), alias: Self.text(attributes[UInt16(IFLA_IFALIAS)]),
            isUp: UInt32(bitPattern: reply.int32(at: 8)) & UInt32(IFF_UP) != 0)
    }

    /// The name of the link `index`, or nil if there is none.
    mutating func name(ofLink index: Int32) throws(NetworkError) -> String? {
        let request = NetlinkMessage(type: UInt16(RTM_GETLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader(index: index))
        let replies: [NetlinkReply]
        do throws(NetworkError) { replies = try socket.perform([request], step: "looking up link \(index)") } catch {
            if error.errno == ENODEV { return nil }
            throw error
        }
        guard let reply = replies.first(where: { $0.type == UInt16(RTM_NEWLINK) }) else { return nil }
        return Self.text(reply.attributes(after: 16)[UInt16(IFLA_IFNAME)])
    }

    /// The names of the links enslaved to the bridge `index` (its ports).
    mutating func ports(ofBridge index: Int32) throws(NetworkError) -> [String] {
        // The kernel filters a link dump by IFLA_MASTER; the replies are checked all the same.
        var request = NetlinkMessage(type: UInt16(RTM_GETLINK), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_DUMP, fixed: Self.linkHeader())
        request.put(UInt16(IFLA_MASTER), u32: UInt32(index))
        return try socket.perform([request], step: "listing the ports of bridge \(index)").compactMap { reply in
            guard reply.type == UInt16(RTM_NEWLINK) else { return nil }
            let attributes = reply.attributes(after: 16)
            guard let master = attributes[UInt16(IFLA_MASTER)], master.count == 4, NetlinkReply(type: 0, payload: master).int32(at: 0) == index,
                let name = Self.text(attributes[UInt16(IFLA_IFNAME)])
            else { return nil }
            return name
        }
    }

    /// Every IPv4 route of the node, in every routing table (main, local — where the node's
    /// own addresses are — and any other).
    mutating func routes() throws(NetworkError) -> [NodeRoute] {
        // struct rtmsg, all zero: every table, every type.
        let request = NetlinkMessage(
            type: UInt16(RTM_GETROUTE), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_DUMP,
            fixed: [UInt8(AF_INET)] + [UInt8](repeating: 0, count: 11))
        return try socket.perform([request], step: "listing the node's routes").compactMap { reply in
            guard reply.type == UInt16(RTM_NEWROUTE), reply.payload.count >= 12 else { return nil }
            return NodeRoute(rtmsg: reply)
        }
    }

    /// A NUL-terminated string attribute (a name, a kind, an alias) as text.
    static func text(_ bytes: ArraySlice<UInt8>?) -> String? { bytes.map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }

    /// The alias skiff gives the bridges it makes: only those are skiff's to configure.
    static let bridgeAlias = "made by skiff"

    /// How the bridges skiff makes are named: never like one another tool adopts.
    static let bridgeNamePrefix = "skiff"

    /// A bridge called `name`, up, marked as skiff's. Returns false if it existed already.
    ///
    /// Made down, then marked and brought up in one setlink: the kernel takes an alias only for
    /// a link that exists (IFLA_IFALIAS is a setlink attribute: on a create it is dropped
    /// without a word), and a create killed in between leaves a bridge that is still down and
    /// unmarked, which the next create recognises and marks (`Link.isUnmarkedBridgeOfSkiff`).
    ///
    /// Its MAC address is its own, set at creation (`bridgeMAC`): a bridge given none takes
    /// the lowest of its ports' and changes it as ports come and go, and every task then holds
    /// a gateway MAC the bridge no longer answers to (no gratuitous ARP is sent) until its
    /// neighbour entry times out; the kernel also walks every port on each join and leave to
    /// recompute it.
    mutating func createBridge(_ name: String) throws(NetworkError) -> Bool {
        var request = NetlinkMessage(
            type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_CREATE | SKIFF_NLM_F_EXCL, fixed: Self.linkHeader())
        request.put(UInt16(IFLA_IFNAME), string: name)
        request.put(UInt16(IFLA_ADDRESS), Self.bridgeMAC())
        request.nest(UInt16(IFLA_LINKINFO)) { $0.put(UInt16(IFLA_INFO_KIND), string: "bridge") }
        do throws(NetworkError) { _ = try socket.perform([request], step: "creating bridge \(name)") } catch {
            if error.errno == EEXIST { return false }
            throw error
        }
        try markBridge(name)
        return true
    }

    /// A random, locally administered unicast MAC whose first byte (0x06) no task's has
    /// (theirs begin 02:73, `TaskEndpoint.mac`).
    static func bridgeMAC() -> [UInt8] {
        [0x06] + (0..<5).map { _ in UInt8.random(in: 0...255) }
    }

    /// Marks the bridge `name` as skiff's (its alias) and brings it up.
    mutating func markBridge(_ name: String) throws(NetworkError) {
        var mark = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader(up: true))
        mark.put(UInt16(IFLA_IFNAME), string: name)
        mark.put(UInt16(IFLA_IFALIAS), string: Self.bridgeAlias)
        _ = try socket.perform([mark], step: "marking bridge \(name) as skiff's")
    }

    /// A veth pair: `host` on the bridge `master`, up, in interface group `group`, with no
    /// IPv6 address of its own; its peer `peer` (with `peerMAC`) created directly in the
    /// namespace `peerNamespace`.
    ///
    /// A port has no use for IPv6 (a task's IPv6 frames are dropped), and the link-local
    /// address the kernel gives an interface when it comes up is a route in one fe80::/64
    /// list shared by every port of the node: inserting the 1,000th walked 999 others, and
    /// each port sent router solicitations. So the host end is made down, told to generate
    /// no IPv6 address (`addr_gen_mode none`, a setting of the link, not of the node), then
    /// brought up.
    mutating func createVeth(host: String, master: Int32, group: UInt32, peer: String, peerMAC: [UInt8], peerNamespace: Int32) throws(NetworkError) {
        var request = NetlinkMessage(
            type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_CREATE | SKIFF_NLM_F_EXCL,
            fixed: Self.linkHeader(up: false))
        request.put(UInt16(IFLA_IFNAME), string: host)
        request.put(UInt16(IFLA_MASTER), u32: UInt32(master))
        request.put(UInt16(IFLA_GROUP), u32: group)
        request.nest(UInt16(IFLA_LINKINFO)) { info in
            info.put(UInt16(IFLA_INFO_KIND), string: "veth")
            info.nest(UInt16(IFLA_INFO_DATA)) { data in
                data.nest(UInt16(VETH_INFO_PEER)) { peerInfo in
                    // The peer's attributes follow its own ifinfomsg.
                    peerInfo.appendRaw(Self.linkHeader())
                    peerInfo.put(UInt16(IFLA_IFNAME), string: peer)
                    peerInfo.put(UInt16(IFLA_ADDRESS), peerMAC)
                    peerInfo.put(UInt16(IFLA_NET_NS_FD), u32: UInt32(peerNamespace))
                }
            }
        }
        do throws(NetworkError) { _ = try socket.perform([request], step: "creating veth \(host)") } catch {
            // The kernel's own words for a full bridge are "Exchange full".
            guard error.errno == EXFULL else { throw error }
            throw .system(
                step: "adding veth \(host) to its bridge", errno: EXFULL,
                detail: "the bridge has the kernel's maximum of 1024 ports (BR_MAX_PORTS): put further tasks on another bridge")
        }
        var noIPv6 = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader())
        noIPv6.put(UInt16(IFLA_IFNAME), string: host)
        noIPv6.nest(UInt16(IFLA_AF_SPEC)) { spec in
            spec.nest(UInt16(AF_INET6)) { $0.put(UInt16(IFLA_INET6_ADDR_GEN_MODE), [UInt8(IN6_ADDR_GEN_MODE_NONE.rawValue)]) }
        }
        do throws(NetworkError) { _ = try socket.perform([noIPv6], step: "turning IPv6 addresses off on \(host)") } catch {
            // A kernel without IPv6 has no addresses to turn off.
            guard error.errno == EAFNOSUPPORT || error.errno == EOPNOTSUPP else { throw error }
        }
        if isThisNamespace { Self.disableIPv6(on: host) }
        var up = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader(up: true))
        up.put(UInt16(IFLA_IFNAME), string: host)
        _ = try socket.perform([up], step: "bringing \(host) up")
    }

    /// Turns IPv6 off on the link `name` of this thread's namespace before it comes up: a
    /// bridge port needs none, and an interface that comes up with IPv6 gets a multicast route
    /// (ff00::/8) that the kernel files in one list with every other port's — a walk over all
    /// of them per create on a busy node (`fib6_add_rt2node`, 0.8% of the CPU of creates
    /// beside 1,000 tasks). Only this interface's own setting is written. Best effort: where
    /// /proc/sys cannot be written (read-only in a container) or IPv6 is not built in, the port
    /// keeps its route and works the same.
    static func disableIPv6(on name: String) {
        let fd = open("/proc/sys/net/ipv6/conf/\(name)/disable_ipv6", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = write(fd, "1", 1)
        close(fd)
    }

    /// Brings the link `index` up.
    mutating func setUp(index: Int32) throws(NetworkError) {
        let request = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader(index: index, up: true))
        _ = try socket.perform([request], step: "bringing link \(index) up")
    }

    /// Puts the bridge port `name` in the disabled state: the bridge neither takes frames
    /// from it nor sends frames to it. A port that is gone already is fine.
    mutating func disableBridgePort(_ name: String) throws(NetworkError) {
        guard let index = try index(of: name) else { return }
        var request = NetlinkMessage(
            type: UInt16(RTM_SETLINK), flags: SKIFF_NLM_F_ACK,
            fixed: [UInt8(AF_BRIDGE), 0, 0, 0] + NetlinkMessage.bytes(of: index)
                + NetlinkMessage.bytes(of: UInt32(0)) + NetlinkMessage.bytes(of: UInt32(0)))
        request.nest(UInt16(IFLA_PROTINFO)) { $0.put(UInt16(IFLA_BRPORT_STATE), [0]) }  // BR_STATE_DISABLED
        do throws(NetworkError) { _ = try socket.perform([request], step: "disabling bridge port \(name)") } catch {
            // Gone, or down (a setup killed before it brought the port up: the kernel refuses
            // a state for a down port, which forwards nothing anyway).
            if error.errno == ENODEV || error.errno == ENETDOWN { return }
            throw error
        }
    }

    /// `address/prefixLength` on the link `index`; an address it has already is fine.
    mutating func addAddress(_ address: IPv4Address, prefixLength: Int, index: Int32) throws(NetworkError) {
        var request = NetlinkMessage(
            type: UInt16(RTM_NEWADDR), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_CREATE | SKIFF_NLM_F_EXCL,
            fixed: [UInt8(AF_INET), UInt8(prefixLength), 0, 0] + NetlinkMessage.bytes(of: UInt32(index)))
        request.put(UInt16(IFA_LOCAL), address.bytes)
        request.put(UInt16(IFA_ADDRESS), address.bytes)
        do throws(NetworkError) { _ = try socket.perform([request], step: "adding address \(address)/\(prefixLength)") } catch {
            if error.errno == EEXIST { return }
            throw error
        }
    }

    mutating func removeAddress(_ address: IPv4Address, prefixLength: Int, index: Int32) throws(NetworkError) {
        var request = NetlinkMessage(
            type: UInt16(RTM_DELADDR), flags: SKIFF_NLM_F_ACK,
            fixed: [UInt8(AF_INET), UInt8(prefixLength), 0, 0] + NetlinkMessage.bytes(of: UInt32(index)))
        request.put(UInt16(IFA_LOCAL), address.bytes)
        do throws(NetworkError) { _ = try socket.perform([request], step: "removing address \(address)/\(prefixLength)") } catch {
            if error.errno == EADDRNOTAVAIL { return }
            throw error
        }
    }

    /// Inside the task: its address on `interface`, the interface and loopback up, and the
    /// default route through `gateway` — one datagram, handled by the kernel in order.
    mutating func configureTask(interface: String, address: IPv4Address, prefixLength: Int, gateway: IPv4Address) throws(NetworkError) {
        guard let index = try index(of: interface) else { throw .system(step: "finding \(interface) in the task", errno: ENODEV) }
        var addAddress = NetlinkMessage(
            type: UInt16(RTM_NEWADDR), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_CREATE | SKIFF_NLM_F_EXCL,
            fixed: [UInt8(AF_INET), UInt8(prefixLength), 0, 0] + NetlinkMessage.bytes(of: UInt32(index)))
        addAddress.put(UInt16(IFA_LOCAL), address.bytes)
        addAddress.put(UInt16(IFA_ADDRESS), address.bytes)
        let interfaceUp = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader(index: index, up: true))
        // Loopback is always index 1 in a new network namespace.
        let loopbackUp = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader(index: 1, up: true))
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        var defaultRoute = NetlinkMessage(
            type: UInt16(RTM_NEWROUTE), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_CREATE | SKIFF_NLM_F_EXCL,
            fixed: [
                UInt8(AF_INET), 0, 0, 0, UInt8(RT_TABLE_MAIN.rawValue), UInt8(RTPROT_STATIC),
                UInt8(RT_SCOPE_UNIVERSE.rawValue), UInt8(RTN_UNICAST),
            ] + NetlinkMessage.bytes(of: UInt32(0)))
        defaultRoute.put(UInt16(RTA_GATEWAY), gateway.bytes)
        defaultRoute.put(UInt16(RTA_OIF), u32: UInt32(index))
        _ = try socket.perform(
            [addAddress, interfaceUp, loopbackUp, defaultRoute],
            step: "configuring \(interface) in the task (\(address)/\(prefixLength) via \(gateway))")
    }

    /// The RTM_DELLINK request for the link `index`.
    static func deletion(ofLink index: Int32) -> NetlinkMessage {
        NetlinkMessage(type: UInt16(RTM_DELLINK), flags: SKIFF_NLM_F_ACK, fixed: linkHeader(index: index))
    }

    /// Removes the link called `name`; one that is gone already is fine.
    mutating func deleteLink(_ name: String) throws(NetworkError) {
        var request = NetlinkMessage(type: UInt16(RTM_DELLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader())
        request.put(UInt16(IFLA_IFNAME), string: name)
        do throws(NetworkError) { _ = try socket.perform([request], step: "removing \(name)") } catch {
            if error.errno == ENODEV { return }
            throw error
        }
    }
}
