import CShims

/// One operation for skiff-init (see `skiff_plan.h`).
struct PlanOperation: Equatable {
    var code: skiff_op
    var args: [Int64] = []
    var strings: [String] = []

    init(_ code: skiff_op, args: [Int64] = [], strings: [String] = []) {
        precondition(args.count <= Int(SKIFF_OP_MAX_ARGS))
        self.code = code
        self.args = args
        self.strings = strings
    }
}

/// The whole launch plan: what skiff-init does, in order, and the descriptors it needs.
struct LaunchPlan {
    var operations: [PlanOperation] = []
    /// Sent by SCM_RIGHTS with the first message; operations name them by index.
    var descriptors: [Int32] = []

    mutating func append(_ code: skiff_op, args: [Int64] = [], strings: [String] = []) {
        operations.append(PlanOperation(code, args: args, strings: strings))
    }

    /// Adds a descriptor and returns its index for the operations that use it.
    mutating func add(descriptor: Int32) -> Int64 {
        descriptors.append(descriptor)
        return Int64(descriptors.count - 1)
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
                throw .usage("the launch plan has an operation of \(encoded.count) bytes (at most \(limit)): shorten the strings of operation \(operation.code.rawValue)")
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
