// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc

/// The rtnetlink requests `linux.netDevices` needs: every link and address of a namespace as
/// the kernel lists them, an interface moved into another namespace, renamed, readdressed.
extension RouteNetlink {
    /// One link as a dump lists it.
    struct ListedLink {
        var index: Int32
        var name: String
        var kind: String?
        var flags: UInt32
        /// The bridge (or bond) it is a port of.
        var master: Int32?
        /// The link it is made on (a macvlan's or vlan's lower device), in this namespace.
        var lower: Int32?
    }

    /// Every link of the namespace.
    mutating func links() throws(NetworkError) -> [ListedLink] {
        let request = NetlinkMessage(type: UInt16(RTM_GETLINK), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_DUMP, fixed: Self.linkHeader())
        return try socket.perform([request], step: "listing the network interfaces").compactMap { reply in
            guard reply.type == UInt16(RTM_NEWLINK), reply.payload.count >= 16 else { return nil }
            let attributes = reply.attributes(after: 16)
            func index(_ type: Int) -> Int32? {
                attributes[UInt16(type)].flatMap { $0.count == 4 ? NetlinkReply(type: 0, payload: $0).int32(at: 0) : nil }
            }
            let info = attributes[UInt16(IFLA_LINKINFO)].map { NetlinkReply(type: 0, payload: $0).attributes(after: 0) }
            // IFLA_LINK names a link of another namespace when IFLA_LINK_NETNSID comes with it.
            let lower = attributes[UInt16(IFLA_LINK_NETNSID)] == nil ? index(Int(IFLA_LINK)) : nil
            return ListedLink(
                index: reply.int32(at: 4), name: Self.text(attributes[UInt16(IFLA_IFNAME)]) ?? "", kind: Self.text(info?[UInt16(IFLA_INFO_KIND)]),
                flags: UInt32(bitPattern: reply.int32(at: 8)), master: index(Int(IFLA_MASTER)), lower: lower)
        }
    }

    /// One address of a link (either family), with what it takes to put it back elsewhere.
    struct LinkAddress {
        var family: UInt8
        var prefixLength: UInt8
        var scope: UInt8
        var flags: UInt32
        var index: Int32
        var local: [UInt8]?
        var address: [UInt8]?
        var broadcast: [UInt8]?

        /// What the node may lose with the interface: a permanent (configured) address of
        /// global scope, as runtime-spec 1.3 says to keep; dynamic and link-local ones are
        /// the namespace's own.
        var isPermanentGlobal: Bool { flags & UInt32(IFA_F_PERMANENT) != 0 && scope == UInt8(RT_SCOPE_UNIVERSE.rawValue) }

        var text: String {
            let bytes = local ?? address ?? []
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard bytes.count == (family == UInt8(AF_INET) ? 4 : 16),
                bytes.withUnsafeBytes({ inet_ntop(Int32(family), $0.baseAddress, &buffer, socklen_t(buffer.count)) }) != nil
            else { return "?" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(prefixLength)"
        }
    }

    /// Every address of every link of the namespace, both families.
    mutating func addresses() throws(NetworkError) -> [LinkAddress] {
        // struct ifaddrmsg: family, prefixlen, flags, scope, index.
        let request = NetlinkMessage(type: UInt16(RTM_GETADDR), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_DUMP, fixed: [UInt8(AF_UNSPEC), 0, 0, 0, 0, 0, 0, 0])
        return try socket.perform([request], step: "listing the addresses").compactMap { reply in
            guard reply.type == UInt16(RTM_NEWADDR), reply.payload.count >= 8 else { return nil }
            let fixed = reply.payload.startIndex
            let attributes = reply.attributes(after: 8)
            // IFA_FLAGS carries all 32 bits; ifa_flags only the first 8.
            let flags = attributes[UInt16(IFA_FLAGS)].map { UInt32(bitPattern: NetlinkReply(type: 0, payload: $0).int32(at: 0)) } ?? UInt32(reply.payload[fixed + 2])
            return LinkAddress(
                family: reply.payload[fixed], prefixLength: reply.payload[fixed + 1], scope: reply.payload[fixed + 3], flags: flags,
                index: reply.int32(at: 4), local: attributes[UInt16(IFA_LOCAL)].map(Array.init), address: attributes[UInt16(IFA_ADDRESS)].map(Array.init),
                broadcast: attributes[UInt16(IFA_BROADCAST)].map(Array.init))
        }
    }

    /// Moves the link `index` into the namespace `namespace` (a descriptor), named `name`
    /// there (nil: its own name). The kernel does both in one request, so the name is never
    /// taken twice; it fails if the name is in use there.
    mutating func moveLink(index: Int32, into namespace: Int32, named name: String?, step: String) throws(NetworkError) {
        var request = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader(index: index))
        request.put(UInt16(IFLA_NET_NS_FD), u32: UInt32(namespace))
        if let name { request.put(UInt16(IFLA_IFNAME), string: name) }
        _ = try socket.perform([request], step: step)
    }

    /// Renames the link `index` to `name` (a "%d" template: the first free number); its name now.
    mutating func rename(index: Int32, to name: String) throws(NetworkError) -> String {
        var request = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: SKIFF_NLM_F_ACK, fixed: Self.linkHeader(index: index))
        request.put(UInt16(IFLA_IFNAME), string: name)
        _ = try socket.perform([request], step: "renaming link \(index) to \(name)")
        return try self.name(ofLink: index) ?? name
    }

    /// `address` on the link `index`, as it was on another (local, peer and broadcast kept);
    /// permanent, as any address added by hand is.
    mutating func add(_ address: LinkAddress, index: Int32) throws(NetworkError) {
        var request = NetlinkMessage(
            type: UInt16(RTM_NEWADDR), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_CREATE | SKIFF_NLM_F_EXCL,
            fixed: [address.family, address.prefixLength, 0, address.scope] + NetlinkMessage.bytes(of: UInt32(index)))
        if let local = address.local { request.put(UInt16(IFA_LOCAL), local) }
        if let peer = address.address { request.put(UInt16(IFA_ADDRESS), peer) }
        if let broadcast = address.broadcast { request.put(UInt16(IFA_BROADCAST), broadcast) }
        _ = try socket.perform([request], step: "adding address \(address.text)")
    }
}

extension RouteNetlink {
    /// One IPv6 route of the namespace: how long its destination prefix is and where it
    /// leaves (enough to tell a default or gatewayed route from a connected one).
    struct IPv6Route {
        var prefixLength: UInt8
        var type: UInt8
        var hops: [(output: Int32, gateway: ArraySlice<UInt8>?)]
    }

    /// Every IPv6 route, in every table.
    mutating func ipv6Routes() throws(NetworkError) -> [IPv6Route] {
        let request = NetlinkMessage(
            type: UInt16(RTM_GETROUTE), flags: SKIFF_NLM_F_ACK | SKIFF_NLM_F_DUMP, fixed: [UInt8(AF_INET6)] + [UInt8](repeating: 0, count: 11))
        do throws(NetworkError) {
            return try socket.perform([request], step: "listing the node's IPv6 routes").compactMap { reply in
                guard reply.type == UInt16(RTM_NEWROUTE), reply.payload.count >= 12 else { return nil }
                let fixed = reply.payload.startIndex
                return IPv6Route(prefixLength: reply.payload[fixed + 1], type: reply.payload[fixed + 7], hops: NodeRoute.hops(reply.attributes(after: 12)))
            }
        } catch {
            // A kernel without IPv6 has no IPv6 routes.
            if error.errno == EAFNOSUPPORT { return [] }
            throw error
        }
    }
}
