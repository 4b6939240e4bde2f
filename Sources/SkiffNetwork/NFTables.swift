// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc

/// One expression of an nf_tables rule. Loads go to a register (register 1 unless told: a
/// concatenation loads each field into the next 32-bit register), where the next comparison,
/// mask or lookup reads them; a failed comparison ends the rule (no verdict).
enum NFTExpression {
    case meta(key: UInt32, into: UInt32 = register1)
    case payload(base: UInt32, offset: UInt32, length: UInt32, into: UInt32 = register1)
    case compare(_ op: UInt32, _ data: [UInt8])
    /// register 1 &= mask
    case mask([UInt8])
    /// The registers from `from` looked up in a set: the rule ends if absent. In a map, the
    /// element's data goes to register `into`.
    case lookup(set: String, from: UInt32 = register1, into: UInt32? = nil)
    /// The conntrack state bits (NF_CT_STATE_*) as a host-order u32.
    case conntrackState
    /// A constant into a register (a field of a concatenation that is the same for every packet).
    case value([UInt8], into: UInt32)
    case verdict(Int32, chain: String? = nil)

    static let register1 = UInt32(NFT_REG_1.rawValue)
    /// The n-th 32-bit register, for the fields of a concatenation.
    static func register32(_ n: Int) -> UInt32 { UInt32(NFT_REG32_00.rawValue) + UInt32(n) }

    static func equal(_ data: [UInt8]) -> NFTExpression { .compare(UInt32(NFT_CMP_EQ.rawValue), data) }
    static func notEqual(_ data: [UInt8]) -> NFTExpression { .compare(UInt32(NFT_CMP_NEQ.rawValue), data) }
    static let drop = NFTExpression.verdict(Int32(SKIFF_NF_DROP))
    static let accept = NFTExpression.verdict(Int32(SKIFF_NF_ACCEPT))
    static let `return` = NFTExpression.verdict(Int32(NFT_RETURN.rawValue))
    static func goto(_ chain: String) -> NFTExpression { .verdict(Int32(NFT_GOTO.rawValue), chain: chain) }
    static func jump(_ chain: String) -> NFTExpression { .verdict(Int32(NFT_JUMP.rawValue), chain: chain) }

    func encode(into message: inout NetlinkMessage) {
        func expression(_ name: String, _ body: (inout NetlinkMessage) -> Void) {
            message.nest(UInt16(NFTA_LIST_ELEM)) { element in
                element.put(UInt16(NFTA_EXPR_NAME), string: name)
                element.nest(UInt16(NFTA_EXPR_DATA), body)
            }
        }
        let reg = Self.register1
        switch self {
        case .meta(let key, let destination):
            expression("meta") {
                $0.put(UInt16(NFTA_META_DREG), bigEndian: destination)
                $0.put(UInt16(NFTA_META_KEY), bigEndian: key)
            }
        case .payload(let base, let offset, let length, let destination):
            expression("payload") {
                $0.put(UInt16(NFTA_PAYLOAD_DREG), bigEndian: destination)
                $0.put(UInt16(NFTA_PAYLOAD_BASE), bigEndian: base)
                $0.put(UInt16(NFTA_PAYLOAD_OFFSET), bigEndian: offset)
                $0.put(UInt16(NFTA_PAYLOAD_LEN), bigEndian: length)
            }
        case .compare(let op, let data):
            expression("cmp") {
                $0.put(UInt16(NFTA_CMP_SREG), bigEndian: reg)
                $0.put(UInt16(NFTA_CMP_OP), bigEndian: op)
                $0.nest(UInt16(NFTA_CMP_DATA)) { $0.put(UInt16(NFTA_DATA_VALUE), data) }
            }
        case .mask(let mask):
            expression("bitwise") {
                $0.put(UInt16(NFTA_BITWISE_SREG), bigEndian: reg)
                $0.put(UInt16(NFTA_BITWISE_DREG), bigEndian: reg)
                $0.put(UInt16(NFTA_BITWISE_LEN), bigEndian: UInt32(mask.count))
                $0.nest(UInt16(NFTA_BITWISE_MASK)) { $0.put(UInt16(NFTA_DATA_VALUE), mask) }
                $0.nest(UInt16(NFTA_BITWISE_XOR)) { $0.put(UInt16(NFTA_DATA_VALUE), [UInt8](repeating: 0, count: mask.count)) }
            }
        case .lookup(let set, let source, let destination):
            expression("lookup") {
                $0.put(UInt16(NFTA_LOOKUP_SET), string: set)
                $0.put(UInt16(NFTA_LOOKUP_SREG), bigEndian: source)
                if let destination { $0.put(UInt16(NFTA_LOOKUP_DREG), bigEndian: destination) }
            }
        case .conntrackState:
            expression("ct") {
                $0.put(UInt16(NFTA_CT_DREG), bigEndian: reg)
                $0.put(UInt16(NFTA_CT_KEY), bigEndian: UInt32(NFT_CT_STATE.rawValue))
            }
        case .value(let data, let destination):
            expression("immediate") {
                $0.put(UInt16(NFTA_IMMEDIATE_DREG), bigEndian: destination)
                $0.nest(UInt16(NFTA_IMMEDIATE_DATA)) { $0.put(UInt16(NFTA_DATA_VALUE), data) }
            }
        case .verdict(let code, let chain):
            expression("immediate") {
                $0.put(UInt16(NFTA_IMMEDIATE_DREG), bigEndian: UInt32(NFT_REG_VERDICT.rawValue))
                $0.nest(UInt16(NFTA_IMMEDIATE_DATA)) { Self.putVerdict(code, chain: chain, into: &$0) }
            }
        }
    }

    static func putVerdict(_ code: Int32, chain: String?, into message: inout NetlinkMessage) {
        message.nest(UInt16(NFTA_DATA_VERDICT)) {
            $0.put(UInt16(NFTA_VERDICT_CODE), bigEndian: code)
            if let chain { $0.put(UInt16(NFTA_VERDICT_CHAIN), string: chain) }
        }
    }
}

/// An nf_tables transaction: every message between BATCH_BEGIN and BATCH_END is applied
/// by the kernel atomically, or none is.
struct NFTablesBatch {
    enum Family: UInt8 {
        case inet = 1  // NFPROTO_INET
        case bridge = 7  // NFPROTO_BRIDGE
    }

    /// The type of one field of a set's key, by nftables' own type numbers (so `nft list
    /// ruleset` shows the sets readably) with its length in bytes.
    enum FieldType: UInt32 {
        case ipv4Address = 7
        case etherAddress = 9
        case inetProtocol = 12
        case inetService = 13
        /// A 32-bit mark: the type nftables shows a group's number as.
        case mark = 19
        case interfaceName = 41

        var length: Int {
            switch self {
            case .ipv4Address, .mark: 4
            case .etherAddress: 6
            case .inetProtocol: 1
            case .inetService: 2
            case .interfaceName: 16
            }
        }
    }

    /// A set's key: one field, or a concatenation (each field takes whole 32-bit registers).
    struct SetKey {
        var fields: [FieldType]

        init(_ fields: FieldType...) { self.fields = fields }

        var length: Int { fields.reduce(0) { $0 + ($1.length + 3) / 4 * 4 } }

        /// nftables' concatenated type: each field's type shifted in by 6 bits.
        var type: UInt32 { fields.reduce(0) { $0 << 6 | $1.rawValue } }

        /// nftables' user data for the key's byte order (NFTNL_UDATA_SET_KEYBYTEORDER: host
        /// 1, big endian 2), without which `nft` prints interface names backwards.
        var userData: [UInt8] { [0, 4] + NetlinkMessage.bytes(of: UInt32(fields == [.interfaceName] ? 1 : 2)) }

        /// The key's bytes from each field's value (network order), each padded to 4 bytes.
        func bytes(_ values: [UInt8]...) -> [UInt8] { bytes(values) }

        func bytes(_ values: [[UInt8]]) -> [UInt8] {
            var key: [UInt8] = []
            for (field, value) in zip(fields, values) {
                precondition(value.count == field.length, "a \(field) field takes \(field.length) bytes")
                key += value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
            }
            return key
        }
    }

    private(set) var messages: [NetlinkMessage] = []

    var isEmpty: Bool { messages.isEmpty }

    private func message(_ type: UInt32, _ family: Family, flags: Int) -> NetlinkMessage {
        NetlinkMessage(
            type: UInt16(SKIFF_NFNL_SUBSYS_NFTABLES) << 8 | UInt16(type), flags: flags | SKIFF_NLM_F_ACK,
            fixed: [family.rawValue, UInt8(NFNETLINK_V0), 0, 0])
    }

    mutating func addTable(_ family: Family, _ table: String) {
        var m = message(UInt32(NFT_MSG_NEWTABLE.rawValue), family, flags: SKIFF_NLM_F_CREATE)
        m.put(UInt16(NFTA_TABLE_NAME), string: table)
        messages.append(m)
    }

    mutating func deleteTable(_ family: Family, _ table: String) {
        var m = message(UInt32(NFT_MSG_DELTABLE.rawValue), family, flags: 0)
        m.put(UInt16(NFTA_TABLE_NAME), string: table)
        messages.append(m)
    }

    /// A chain (created if missing); a base chain when `hook` is given (policy accept).
    mutating func addChain(_ family: Family, _ table: String, _ chain: String, hook: (number: UInt32, priority: Int32)? = nil) {
        var m = message(UInt32(NFT_MSG_NEWCHAIN.rawValue), family, flags: SKIFF_NLM_F_CREATE)
        m.put(UInt16(NFTA_CHAIN_TABLE), string: table)
        m.put(UInt16(NFTA_CHAIN_NAME), string: chain)
        if let hook {
            m.nest(UInt16(NFTA_CHAIN_HOOK)) {
                $0.put(UInt16(NFTA_HOOK_HOOKNUM), bigEndian: hook.number)
                $0.put(UInt16(NFTA_HOOK_PRIORITY), bigEndian: hook.priority)
            }
            m.put(UInt16(NFTA_CHAIN_POLICY), bigEndian: UInt32(SKIFF_NF_ACCEPT))
            m.put(UInt16(NFTA_CHAIN_TYPE), string: "filter")
        }
        messages.append(m)
    }

    /// A set (created if missing, with the same shape every time: the kernel refuses a
    /// re-add that differs); with `intervals`, each element is a range in every field (a
    /// concatenation of ranges: the pipapo set type); with `data`, a map to values of that type.
    mutating func addSet(_ family: Family, _ table: String, _ set: String, key: SetKey, intervals: Bool = false, data: FieldType? = nil) {
        var m = message(UInt32(NFT_MSG_NEWSET.rawValue), family, flags: SKIFF_NLM_F_CREATE)
        m.put(UInt16(NFTA_SET_TABLE), string: table)
        m.put(UInt16(NFTA_SET_NAME), string: set)
        var flags: UInt32 = intervals ? UInt32(NFT_SET_INTERVAL.rawValue) : 0
        if key.fields.count > 1 { flags |= UInt32(NFT_SET_CONCAT.rawValue) }
        if data != nil { flags |= UInt32(NFT_SET_MAP.rawValue) }
        m.put(UInt16(NFTA_SET_FLAGS), bigEndian: flags)
        m.put(UInt16(NFTA_SET_KEY_TYPE), bigEndian: key.type)
        m.put(UInt16(NFTA_SET_KEY_LEN), bigEndian: UInt32(key.length))
        if let data {
            m.put(UInt16(NFTA_SET_DATA_TYPE), bigEndian: data.rawValue)
            m.put(UInt16(NFTA_SET_DATA_LEN), bigEndian: UInt32(data.length))
        }
        m.put(UInt16(NFTA_SET_ID), bigEndian: UInt32(messages.count + 1))
        if key.fields.count > 1 {
            m.nest(UInt16(NFTA_SET_DESC)) { description in
                description.nest(UInt16(NFTA_SET_DESC_CONCAT)) { concat in
                    for field in key.fields {
                        concat.nest(UInt16(NFTA_LIST_ELEM)) { $0.put(UInt16(NFTA_SET_FIELD_LEN), bigEndian: UInt32(field.length)) }
                    }
                }
            }
        }
        m.put(UInt16(NFTA_SET_USERDATA), key.userData)
        messages.append(m)
    }

    /// One element of a set: a key, or a range of keys (`end`, in a set with intervals); in a
    /// map, with its value.
    struct Element: Hashable {
        var key: [UInt8]
        var end: [UInt8]? = nil
        var data: [UInt8]? = nil
    }

    /// Elements of a set, as few messages as the attribute size allows (an attribute's
    /// length is 16 bits).
    mutating func addElements(_ family: Family, _ table: String, _ set: String, _ elements: [Element]) {
        elementMessages(UInt32(NFT_MSG_NEWSETELEM.rawValue), family, table, set, elements, flags: SKIFF_NLM_F_CREATE)
    }

    mutating func deleteElements(_ family: Family, _ table: String, _ set: String, _ elements: [Element]) {
        elementMessages(UInt32(NFT_MSG_DELSETELEM.rawValue), family, table, set, elements, flags: 0)
    }

    private mutating func elementMessages(_ type: UInt32, _ family: Family, _ table: String, _ set: String, _ elements: [Element], flags: Int) {
        var start = 0
        while start < elements.count {
            var m = message(type, family, flags: flags)
            m.put(UInt16(NFTA_SET_ELEM_LIST_TABLE), string: table)
            m.put(UInt16(NFTA_SET_ELEM_LIST_SET), string: set)
            m.nest(UInt16(NFTA_SET_ELEM_LIST_ELEMENTS)) { list in
                // Each element takes under 100 bytes: 512 keep the nest well under 64 KiB.
                for element in elements[start..<min(start + 512, elements.count)] {
                    list.nest(UInt16(NFTA_LIST_ELEM)) { item in
                        item.nest(UInt16(NFTA_SET_ELEM_KEY)) { $0.put(UInt16(NFTA_DATA_VALUE), element.key) }
                        if let end = element.end {
                            item.nest(UInt16(NFTA_SET_ELEM_KEY_END)) { $0.put(UInt16(NFTA_DATA_VALUE), end) }
                        }
                        // A deletion names the key alone.
                        if let data = element.data, type == UInt32(NFT_MSG_NEWSETELEM.rawValue) {
                            item.nest(UInt16(NFTA_SET_ELEM_DATA)) { $0.put(UInt16(NFTA_DATA_VALUE), data) }
                        }
                    }
                }
            }
            messages.append(m)
            start += 512
        }
    }

    mutating func addRule(_ family: Family, _ table: String, _ chain: String, _ expressions: [NFTExpression]) {
        var m = message(UInt32(NFT_MSG_NEWRULE.rawValue), family, flags: SKIFF_NLM_F_CREATE | SKIFF_NLM_F_APPEND)
        m.put(UInt16(NFTA_RULE_TABLE), string: table)
        m.put(UInt16(NFTA_RULE_CHAIN), string: chain)
        m.nest(UInt16(NFTA_RULE_EXPRESSIONS)) { list in
            for expression in expressions { expression.encode(into: &list) }
        }
        messages.append(m)
    }

    /// Every rule of a chain removed (the chain stays).
    mutating func flushChain(_ family: Family, _ table: String, _ chain: String) {
        var m = message(UInt32(NFT_MSG_DELRULE.rawValue), family, flags: 0)
        m.put(UInt16(NFTA_RULE_TABLE), string: table)
        m.put(UInt16(NFTA_RULE_CHAIN), string: chain)
        messages.append(m)
    }

    /// Sends the transaction; the kernel commits all of it or nothing. Returns the socket:
    /// closing it after a transaction that deleted anything waits for an RCU grace period
    /// (the kernel frees the deleted objects first), so a caller with other work to do
    /// closes it after that work.
    @discardableResult
    func commit(step: String, namespace: Int32? = nil) throws(NetworkError) -> NetlinkSocket? {
        guard !messages.isEmpty else { return nil }
        var socket = try NetlinkSocket(protocol: NETLINK_NETFILTER, namespace: namespace)
        _ = try socket.perform(framed, step: step)
        return socket
    }

    /// The messages between the markers that make them one transaction.
    var framed: [NetlinkMessage] {
        func marker(_ type: Int) -> NetlinkMessage {
            // res_id names the subsystem, in network order.
            NetlinkMessage(type: UInt16(type), flags: 0, fixed: [UInt8(AF_UNSPEC), UInt8(NFNETLINK_V0), 0, UInt8(SKIFF_NFNL_SUBSYS_NFTABLES)])
        }
        return [marker(SKIFF_NFNL_MSG_BATCH_BEGIN)] + messages + [marker(SKIFF_NFNL_MSG_BATCH_END)]
    }

    /// Whether every object the GET `requests` name exists (false if any does not), asked
    /// on one socket in one round trip.
    static func exist(_ requests: [NetlinkMessage], step: String, namespace: Int32? = nil) throws(NetworkError) -> Bool {
        var socket = try NetlinkSocket(protocol: NETLINK_NETFILTER, namespace: namespace)
        do throws(NetworkError) { _ = try socket.perform(requests, step: step) } catch {
            if error.errno == ENOENT { return false }
            throw error
        }
        return true
    }

    /// A GET request for `set` in `table` of `family`.
    static func getSet(_ family: Family, _ table: String, _ set: String) -> NetlinkMessage {
        var request = get(UInt32(NFT_MSG_GETSET.rawValue), family)
        request.put(UInt16(NFTA_SET_TABLE), string: table)
        request.put(UInt16(NFTA_SET_NAME), string: set)
        return request
    }

    /// A GET request for the element with `key` in `set`.
    static func getElement(_ family: Family, _ table: String, _ set: String, key: [UInt8]) -> NetlinkMessage {
        var request = get(UInt32(NFT_MSG_GETSETELEM.rawValue), family)
        request.put(UInt16(NFTA_SET_ELEM_LIST_TABLE), string: table)
        request.put(UInt16(NFTA_SET_ELEM_LIST_SET), string: set)
        request.nest(UInt16(NFTA_SET_ELEM_LIST_ELEMENTS)) { list in
            list.nest(UInt16(NFTA_LIST_ELEM)) { item in item.nest(UInt16(NFTA_SET_ELEM_KEY)) { $0.put(UInt16(NFTA_DATA_VALUE), key) } }
        }
        return request
    }

    /// Whether `table` exists in `family`.
    static func tableExists(_ family: Family, _ table: String, namespace: Int32? = nil) throws(NetworkError) -> Bool {
        var request = get(UInt32(NFT_MSG_GETTABLE.rawValue), family)
        request.put(UInt16(NFTA_TABLE_NAME), string: table)
        return try exist([request], step: "looking up table \(table)", namespace: namespace)
    }

    private static func get(_ type: UInt32, _ family: Family) -> NetlinkMessage {
        NetlinkMessage(
            type: UInt16(SKIFF_NFNL_SUBSYS_NFTABLES) << 8 | UInt16(type), flags: SKIFF_NLM_F_ACK, fixed: [family.rawValue, UInt8(NFNETLINK_V0), 0, 0])
    }
}
