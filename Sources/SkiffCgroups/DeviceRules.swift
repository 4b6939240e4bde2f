// SPDX-License-Identifier: Apache-2.0
import SkiffSpec

/// One device cgroup rule: allow or deny `access` (r, w, m) to devices of `type` (a, c, b)
/// with `major`:`minor` (nil: any).
public struct DeviceRule: Equatable, Sendable {
    public var allow: Bool
    public var type: Character
    public var major: Int64?
    public var minor: Int64?
    public var access: String

    public init(allow: Bool, type: Character, major: Int64?, minor: Int64?, access: String) {
        self.allow = allow
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access
    }

    /// "c 1:3 rwm", as the v1 devices files take it.
    var v1Text: String { "\(type) \(major.map(String.init) ?? "*"):\(minor.map(String.init) ?? "*") \(access)" }

    /// Every device, every access.
    var isWildcard: Bool { type == "a" && major == nil && minor == nil && Set(access) == Set("rwm") }
}

/// `linux.resources.devices` as the kernel gets it: a default (what the last all-devices rule
/// said) and the rules after it, in order, the last match winning. On cgroup v1 they become
/// writes to `devices.deny`/`devices.allow`; on v2 an eBPF `BPF_PROG_TYPE_CGROUP_DEVICE`
/// program (as runc and crun do).
public struct DeviceRules: Equatable, Sendable {
    public var defaultAllow = true
    public var rules: [DeviceRule] = []

    public init(_ spec: [Spec.DeviceCgroup], path: JSONPath) throws(SpecError) {
        for (i, entry) in spec.enumerated() {
            let at = path.index(i)
            let type = Character(entry.type ?? "a")
            guard ["a", "c", "b"].contains(type), (entry.type ?? "a").count == 1 else {
                throw SpecError(at["type"], "unknown device type \"\(entry.type ?? "")\" (expected a, c or b)")
            }
            let access = entry.access ?? "rwm"
            guard !access.isEmpty, access.allSatisfy({ "rwm".contains($0) }) else {
                throw SpecError(at["access"], "\"\(access)\" is not a combination of r, w and m")
            }
            if let major = entry.major, major < -1 { throw SpecError(at["major"], "must be a device number or -1, got \(major)") }
            if let minor = entry.minor, minor < -1 { throw SpecError(at["minor"], "must be a device number or -1, got \(minor)") }
            append(
                DeviceRule(
                    allow: entry.allow, type: type, major: entry.major.flatMap { $0 < 0 ? nil : $0 },
                    minor: entry.minor.flatMap { $0 < 0 ? nil : $0 }, access: access))
        }
    }

    /// A rule for all devices and all access replaces everything before it.
    public mutating func append(_ rule: DeviceRule) {
        if rule.isWildcard {
            defaultAllow = rule.allow
            rules = []
        } else {
            rules.append(rule)
        }
    }

    /// What every container may use, as runc allows it: creating any device node (not
    /// opening it), the standard devices skiff creates, ptys, and the tun device; then the
    /// config's own `linux.devices`.
    public mutating func allowStandardDevices(plus devices: [Spec.Device]) {
        // Creating nodes, the standard devices, then the console, ptmx, the ptys and tun.
        let standard: [(Character, Int64?, Int64?, String)] =
            [("c", nil, nil, "m"), ("b", nil, nil, "m")]
            + Spec.Device.standard.map { ("c", $0.major, $0.minor, "rwm") }
            + [("c", 5, 1, "rwm"), ("c", 5, 2, "rwm"), ("c", 136, nil, "rwm"), ("c", 10, 200, "rwm")]
        for (type, major, minor, access) in standard {
            append(DeviceRule(allow: true, type: type, major: major, minor: minor, access: access))
        }
        for device in devices where device.type == "c" || device.type == "b" || device.type == "u" {
            append(DeviceRule(allow: true, type: device.type == "b" ? "b" : "c", major: device.major, minor: device.minor, access: "rwm"))
        }
    }

    /// The v1 writes: the default first (`a` to deny or allow), then each rule in order.
    public var v1Writes: [CgroupWrite] {
        var writes = [CgroupWrite("devices", defaultAllow ? "devices.allow" : "devices.deny", "a", field: "linux.resources.devices")]
        for rule in rules {
            writes.append(CgroupWrite("devices", rule.allow ? "devices.allow" : "devices.deny", rule.v1Text, field: "linux.resources.devices"))
        }
        return writes
    }

    /// The v2 program. Input (`struct bpf_cgroup_dev_ctx`): access_type (type in the low 16
    /// bits, access in the high 16), major, minor. The rules are checked last to first, so
    /// the last matching rule decides, as in v1; no match returns the default.
    public var program: [BPFInstruction] {
        var code: [BPFInstruction] = [
            .loadWord(dst: 2, src: 1, offset: 0), .and32(dst: 2, 0xffff),  // r2 = type
            .loadWord(dst: 3, src: 1, offset: 0), .rightShift32(dst: 3, 16),  // r3 = access
            .loadWord(dst: 4, src: 1, offset: 4),  // r4 = major
            .loadWord(dst: 5, src: 1, offset: 8),  // r5 = minor
        ]
        for rule in rules.reversed() {
            var block: [BPFInstruction] = []
            var jumps: [Int] = []  // indexes of the jumps that skip to the next rule
            if rule.type != "a" {
                jumps.append(block.count)
                block.append(.jumpIfNotEqual(dst: 2, Int32(rule.type == "b" ? 1 : 2), offset: 0))
            }
            let bits = Int32((rule.access.contains("m") ? 1 : 0) | (rule.access.contains("r") ? 2 : 0) | (rule.access.contains("w") ? 4 : 0))
            if bits != 7 {
                // Matches only if every requested access is in the rule's set.
                block.append(.move64(dst: 1, src: 3))
                block.append(.and32(dst: 1, bits))
                jumps.append(block.count)
                block.append(.jumpIfNotEqualRegister(dst: 1, src: 3, offset: 0))
            }
            if let major = rule.major {
                jumps.append(block.count)
                block.append(.jumpIfNotEqual(dst: 4, Int32(truncatingIfNeeded: major), offset: 0))
            }
            if let minor = rule.minor {
                jumps.append(block.count)
                block.append(.jumpIfNotEqual(dst: 5, Int32(truncatingIfNeeded: minor), offset: 0))
            }
            block.append(.move32(dst: 0, rule.allow ? 1 : 0))
            block.append(.exit)
            for index in jumps { block[index].offset = Int16(block.count - index - 1) }
            code += block
        }
        code.append(.move32(dst: 0, defaultAllow ? 1 : 0))
        code.append(.exit)
        return code
    }
}

/// One eBPF instruction (`struct bpf_insn`).
public struct BPFInstruction: Equatable, Sendable {
    public var code: UInt8
    public var registers: UInt8  // dst in the low nibble, src in the high one
    public var offset: Int16
    public var immediate: Int32

    static func loadWord(dst: UInt8, src: UInt8, offset: Int16) -> BPFInstruction {
        BPFInstruction(code: 0x61, registers: dst | src << 4, offset: offset, immediate: 0)  // BPF_LDX|BPF_MEM|BPF_W
    }
    static func and32(dst: UInt8, _ value: Int32) -> BPFInstruction {
        BPFInstruction(code: 0x54, registers: dst, offset: 0, immediate: value)  // BPF_ALU|BPF_AND|BPF_K
    }
    static func rightShift32(dst: UInt8, _ value: Int32) -> BPFInstruction {
        BPFInstruction(code: 0x74, registers: dst, offset: 0, immediate: value)  // BPF_ALU|BPF_RSH|BPF_K
    }
    static func move32(dst: UInt8, _ value: Int32) -> BPFInstruction {
        BPFInstruction(code: 0xb4, registers: dst, offset: 0, immediate: value)  // BPF_ALU|BPF_MOV|BPF_K
    }
    static func move64(dst: UInt8, src: UInt8) -> BPFInstruction {
        BPFInstruction(code: 0xbf, registers: dst | src << 4, offset: 0, immediate: 0)  // BPF_ALU64|BPF_MOV|BPF_X
    }
    static func jumpIfNotEqual(dst: UInt8, _ value: Int32, offset: Int16) -> BPFInstruction {
        BPFInstruction(code: 0x55, registers: dst, offset: offset, immediate: value)  // BPF_JMP|BPF_JNE|BPF_K
    }
    static func jumpIfNotEqualRegister(dst: UInt8, src: UInt8, offset: Int16) -> BPFInstruction {
        BPFInstruction(code: 0x5d, registers: dst | src << 4, offset: offset, immediate: 0)  // BPF_JMP|BPF_JNE|BPF_X
    }
    static let exit = BPFInstruction(code: 0x95, registers: 0, offset: 0, immediate: 0)  // BPF_JMP|BPF_EXIT
}
