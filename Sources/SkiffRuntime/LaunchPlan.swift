// SPDX-License-Identifier: Apache-2.0
import CShims
import SkiffSpec

/// One operation for skiff-init (see `skiff_plan.h`).
struct PlanOperation: Equatable {
    var code: skiff_op
    var args: [Int64] = []
    var strings: [String] = []

    /// Its name in skiff_plan.h's table (`MOUNT`), shared with skiff-init.
    var name: String { skiff_op_name(UInt32(code.rawValue)).map { String(cString: $0) } ?? "operation \(code.rawValue)" }

    init(_ code: skiff_op, args: [Int64] = [], strings: [String] = []) {
        precondition(args.count <= Int(SKIFF_OP_MAX_ARGS))
        self.code = code
        self.args = args
        self.strings = strings
    }
}

/// The whole launch plan: what skiff-init does, in order, and the descriptors it needs.
struct LaunchPlan: Equatable {
    var operations: [PlanOperation] = []
    /// What the descriptors are, in the order they are sent by SCM_RIGHTS with the first
    /// message (operations name them by index); `LaunchDescriptors` opens them.
    var descriptors: [DescriptorRequest] = []

    mutating func append(_ code: skiff_op, args: [Int64] = [], strings: [String] = []) {
        operations.append(PlanOperation(code, args: args, strings: strings))
    }

    /// Asks for a descriptor and returns its index for the operations that use it.
    mutating func add(_ request: DescriptorRequest) -> Int64 {
        descriptors.append(request)
        return Int64(descriptors.count - 1)
    }

    /// Checks, before anything is made, that skiff-init can take the plan: every operation fits
    /// one message and counts its strings in 16 bits, and the descriptors fit one SCM_RIGHTS.
    func checkLimits() throws(SpecError) {
        let limit = Int(SKIFF_PLAN_MAX_MESSAGE)
        for operation in operations {
            let size = MemoryLayout<skiff_op_header>.size + operation.strings.reduce(0) { $0 + $1.utf8.count + 1 }
            if operation.strings.count > Int(UInt16.max) || size > limit {
                throw SpecError(
                    Self.field(of: operation.code),
                    "too large for skiff-init's plan: \(operation.strings.count) strings, \(size) bytes (one operation takes at most \(UInt16.max) strings and \(limit) bytes)"
                )
            }
        }
        if descriptors.count > Int(SKIFF_PLAN_MAX_FDS) {
            throw SpecError(
                "mounts", "the container needs \(descriptors.count) descriptors (namespaces, idmapped mounts); skiff-init takes at most \(SKIFF_PLAN_MAX_FDS)")
        }
    }

    /// The config field an operation's strings come from, for errors.
    static func field(of code: skiff_op) -> String {
        switch code {
        case SKIFF_OP_USER: "process.user.additionalGids"
        case SKIFF_OP_EXEC: "process.args and process.env"
        case SKIFF_OP_HOOK: "hooks"
        case SKIFF_OP_MOUNT: "mounts"
        case SKIFF_OP_SYSCTL: "linux.sysctl"
        case SKIFF_OP_HOSTNAME: "hostname"
        case SKIFF_OP_DOMAINNAME: "domainname"
        case SKIFF_OP_TIME_NAMESPACE: "linux.timeOffsets"
        default: "config.json"
        }
    }

    /// The plan as SOCK_SEQPACKET messages of at most SKIFF_PLAN_MAX_MESSAGE bytes, never
    /// splitting an operation, ending with SKIFF_OP_END.
    func messages() throws(RuntimeError) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        var current: [UInt8] = []
        let limit = Int(SKIFF_PLAN_MAX_MESSAGE)
        for operation in operations + [PlanOperation(SKIFF_OP_END)] {
            let encoded = Self.encode(operation)
            if encoded.count > limit {
                throw .usage(
                    "the launch plan has an operation of \(encoded.count) bytes (at most \(limit)): shorten the strings of \(operation.name)")
            }
            if current.count + encoded.count > limit {
                messages.append(current)
                current = []
            }
            current.append(contentsOf: encoded)
        }
        messages.append(current)
        return messages
    }

    static func encode(_ operation: PlanOperation) -> [UInt8] {
        var body: [UInt8] = []
        for string in operation.strings {
            body.append(contentsOf: string.utf8)
            body.append(0)
        }
        let headerSize = MemoryLayout<skiff_op_header>.size
        let size = (headerSize + body.count + 7) & ~7
        var header = skiff_op_header()
        header.size = UInt32(size)
        header.op = UInt16(operation.code.rawValue)
        header.nstr = UInt16(operation.strings.count)
        withUnsafeMutableBytes(of: &header.arg) { raw in
            let args = raw.bindMemory(to: Int64.self)
            for (i, value) in operation.args.enumerated() { args[i] = value }
        }
        var bytes = withUnsafeBytes(of: header) { Array($0) }
        bytes.append(contentsOf: body)
        bytes.append(contentsOf: [UInt8](repeating: 0, count: size - bytes.count))
        return bytes
    }
}
