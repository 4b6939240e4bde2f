import CShims
import Glibc

/// One expression of an nf_tables rule. Loads go to register 1, where the next comparison,
/// mask or lookup reads them; a failed comparison ends the rule (no verdict).
enum NFTExpression {
    case meta(key: UInt32)
    case payload(base: UInt32, offset: UInt32, length: UInt32)
    case compare(_ op: UInt32, _ data: [UInt8])
    /// register 1 &= mask
    case mask([UInt8])
    /// Register 1 looked up in a set (the rule ends if absent), or in a verdict map (its
    /// verdict applies).
    case lookup(set: String, isVerdictMap: Bool)
    /// The conntrack state bits (NF_CT_STATE_*) as a host-order u32.
    case conntrackState
    case verdict(Int32, chain: String? = nil)

    static let register1 = UInt32(NFT_REG_1.rawValue)

    static func equal(_ data: [UInt8]) -> NFTExpression { .compare(UInt32(NFT_CMP_EQ.rawValue), data) }
    static func notEqual(_ data: [UInt8]) -> NFTExpression { .compare(UInt32(NFT_CMP_NEQ.rawValue), data) }
    static let drop = NFTExpression.verdict(Int32(SKIFF_NF_DROP))
    static let accept = NFTExpression.verdict(Int32(SKIFF_NF_ACCEPT))
    static let `return` = NFTExpression.verdict(Int32(NFT_RETURN.rawValue))

    func encode(into message: inout NetlinkMessage) {
        func expression(_ name: String, _ body: (inout NetlinkMessage) -> Void) {
            message.nest(UInt16(NFTA_LIST_ELEM)) { element in
                element.put(UInt16(NFTA_EXPR_NAME), string: name)
                element.nest(UInt16(NFTA_EXPR_DATA), body)
            }
        }
        let reg = Self.register1
        switch self {
        case .meta(let key):
            expression("meta") {
                $0.put(UInt16(NFTA_META_DREG), bigEndian: reg)
                $0.put(UInt16(NFTA_META_KEY), bigEndian: key)
            }
        case .payload(let base, let offset, let length):
            expression("payload") {
                $0.put(UInt16(NFTA_PAYLOAD_DREG), bigEndian: reg)
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
        case .lookup(let set, let isVerdictMap):
            expression("lookup") {
                $0.put(UInt16(NFTA_LOOKUP_SET), string: set)
                $0.put(UInt16(NFTA_LOOKUP_SREG), bigEndian: reg)
                if isVerdictMap { $0.put(UInt16(NFTA_LOOKUP_DREG), bigEndian: UInt32(NFT_REG_VERDICT.rawValue)) }
            }
        case .conntrackState:
            expression("ct") {
                $0.put(UInt16(NFTA_CT_DREG), bigEndian: reg)
                $0.put(UInt16(NFTA_CT_KEY), bigEndian: UInt32(NFT_CT_STATE.rawValue))
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

    /// nftables' own type numbers, so `nft list ruleset` shows the sets readably.
    enum KeyType: UInt32 {
        case ipv4Address = 7
        case interfaceName = 41

        /// nftables' user data for the key's byte order (NFTNL_UDATA_SET_KEYBYTEORDER: host
        /// 1, big endian 2), without which `nft` prints interface names backwards.
        var userData: [UInt8] { [0, 4] + NetlinkMessage.bytes(of: UInt32(self == .interfaceName ? 1 : 2)) }
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

    /// Deletes every rule of the chain.
    mutating func flushChain(_ family: Family, _ table: String, _ chain: String) {
        var m = message(UInt32(NFT_MSG_DELRULE.rawValue), family, flags: 0)
        m.put(UInt16(NFTA_RULE_TABLE), string: table)
        m.put(UInt16(NFTA_RULE_CHAIN), string: chain)
        messages.append(m)
    }

    mutating func deleteChain(_ family: Family, _ table: String, _ chain: String) {
        var m = message(UInt32(NFT_MSG_DELCHAIN.rawValue), family, flags: 0)
        m.put(UInt16(NFTA_CHAIN_TABLE), string: table)
        m.put(UInt16(NFTA_CHAIN_NAME), string: chain)
        messages.append(m)
    }

    /// A set (created if missing, with the same shape every time: the kernel refuses a
    /// re-add that differs); a verdict map when `isVerdictMap`.
    mutating func addSet(_ family: Family, _ table: String, _ set: String, key: KeyType, keyLength: Int, isVerdictMap: Bool = false) {
        var m = message(UInt32(NFT_MSG_NEWSET.rawValue), family, flags: SKIFF_NLM_F_CREATE)
        m.put(UInt16(NFTA_SET_TABLE), string: table)
        m.put(UInt16(NFTA_SET_NAME), string: set)
        m.put(UInt16(NFTA_SET_FLAGS), bigEndian: isVerdictMap ? UInt32(NFT_SET_MAP.rawValue) : 0)
        m.put(UInt16(NFTA_SET_KEY_TYPE), bigEndian: key.rawValue)
        m.put(UInt16(NFTA_SET_KEY_LEN), bigEndian: UInt32(keyLength))
        if isVerdictMap { m.put(UInt16(NFTA_SET_DATA_TYPE), bigEndian: UInt32(NFT_DATA_VERDICT.rawValue)) }
        m.put(UInt16(NFTA_SET_ID), bigEndian: UInt32(messages.count + 1))
        m.put(UInt16(NFTA_SET_USERDATA), key.userData)
        messages.append(m)
    }

    /// Elements of a set; with `jumpTo`, the elements of a verdict map jumping to that chain.
    mutating func addElement(_ family: Family, _ table: String, _ set: String, key: [UInt8], jumpTo chain: String? = nil) {
        elements(UInt32(NFT_MSG_NEWSETELEM.rawValue), family, table, set, key: key, jumpTo: chain, flags: SKIFF_NLM_F_CREATE)
    }

    mutating func deleteElement(_ family: Family, _ table: String, _ set: String, key: [UInt8]) {
        elements(UInt32(NFT_MSG_DELSETELEM.rawValue), family, table, set, key: key, jumpTo: nil, flags: 0)
    }

    private mutating func elements(_ type: UInt32, _ family: Family, _ table: String, _ set: String, key: [UInt8], jumpTo chain: String?, flags: Int) {
        var m = message(type, family, flags: flags)
        m.put(UInt16(NFTA_SET_ELEM_LIST_TABLE), string: table)
        m.put(UInt16(NFTA_SET_ELEM_LIST_SET), string: set)
        m.nest(UInt16(NFTA_SET_ELEM_LIST_ELEMENTS)) { list in
            list.nest(UInt16(NFTA_LIST_ELEM)) { element in
                element.nest(UInt16(NFTA_SET_ELEM_KEY)) { $0.put(UInt16(NFTA_DATA_VALUE), key) }
                if let chain {
                    element.nest(UInt16(NFTA_SET_ELEM_DATA)) { NFTExpression.putVerdict(Int32(NFT_JUMP.rawValue), chain: chain, into: &$0) }
                }
            }
        }
        messages.append(m)
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

    /// Sends the transaction; the kernel commits all of it or nothing. Returns the socket:
    /// closing it after a transaction that deleted anything waits for an RCU grace period
    /// (the kernel frees the deleted objects first), so a caller with other work to do
    /// closes it after that work.
    @discardableResult
    func commit(step: String, namespace: Int32? = nil) throws(NetworkError) -> NetlinkSocket? {
        guard !messages.isEmpty else { return nil }
        func marker(_ type: Int) -> NetlinkMessage {
            // res_id names the subsystem, in network order.
            NetlinkMessage(type: UInt16(type), flags: 0, fixed: [UInt8(AF_UNSPEC), UInt8(NFNETLINK_V0), 0, UInt8(SKIFF_NFNL_SUBSYS_NFTABLES)])
        }
        var socket = try NetlinkSocket(protocol: NETLINK_NETFILTER, namespace: namespace)
        _ = try socket.perform([marker(SKIFF_NFNL_MSG_BATCH_BEGIN)] + messages + [marker(SKIFF_NFNL_MSG_BATCH_END)], step: step)
        return socket
    }

    /// Whether `table` exists in `family`.
    static func tableExists(_ family: Family, _ table: String, namespace: Int32? = nil) throws(NetworkError) -> Bool {
        var request = NetlinkMessage(
            type: UInt16(SKIFF_NFNL_SUBSYS_NFTABLES) << 8 | UInt16(NFT_MSG_GETTABLE.rawValue), flags: SKIFF_NLM_F_ACK,
            fixed: [family.rawValue, UInt8(NFNETLINK_V0), 0, 0])
        request.put(UInt16(NFTA_TABLE_NAME), string: table)
        var socket = try NetlinkSocket(protocol: NETLINK_NETFILTER, namespace: namespace)
        do throws(NetworkError) { _ = try socket.perform([request], step: "looking up table \(table)") } catch {
            if error.errno == ENOENT { return false }
            throw error
        }
        return true
    }
}
