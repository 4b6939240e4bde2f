// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// `linux.seccomp` compiled to the BPF program the kernel loads, with the flags to load it
/// with. Compiled in the parent with libseccomp; skiff-init only loads it.
public struct SeccompFilter: Sendable {
    /// struct sock_filter instructions, 8 bytes each.
    public var program: [UInt8]
    /// SECCOMP_FILTER_FLAG_*; includes NEW_LISTENER when a rule notifies.
    public var flags: UInt32
    public var listenerPath: String?
    public var listenerMetadata: String?
    /// Syscall names this libseccomp does not know: skipped, as runc does.
    public var warnings: [String]

    public var needsListener: Bool { flags & SeccompNames.newListener != 0 }
}

/// Validates and compiles a seccomp section. Every problem is a SpecError naming the field.
public enum SeccompCompiler {
    /// Everything that can be known without libseccomp's compiler: validity, flags, the
    /// listener, and which syscall names are unknown.
    public static func check(_ seccomp: Spec.Seccomp, path: JSONPath = JSONPath("linux.seccomp")) throws(SpecError) -> SeccompFilter {
        var flags: UInt32 = 0
        var usesNotify = false
        let defaultAction = try action(seccomp.defaultAction, errno: seccomp.defaultErrnoRet, at: path["defaultAction"])
        usesNotify = seccomp.defaultAction == "SCMP_ACT_NOTIFY"
        _ = defaultAction
        for (i, name) in (seccomp.flags ?? []).enumerated() {
            guard let flag = SeccompNames.flags[name] else { throw SpecError(path.key("flags")[i], "unknown seccomp flag \"\(name)\"") }
            flags |= flag
        }
        for (i, name) in (seccomp.architectures ?? []).enumerated() {
            guard let arch = SeccompNames.libseccompArchitecture(name), seccomp_arch_resolve_name(arch) != 0 else {
                throw SpecError(path.key("architectures")[i], "unknown architecture \"\(name)\"")
            }
        }
        var warnings: [String] = []
        for (i, rule) in (seccomp.syscalls ?? []).enumerated() {
            let at = path.key("syscalls").index(i)
            _ = try action(rule.action, errno: rule.errnoRet, at: at["action"])
            if rule.action == "SCMP_ACT_NOTIFY" { usesNotify = true }
            if rule.names.isEmpty { throw SpecError(at["names"], "must not be empty") }
            for (j, arg) in (rule.args ?? []).enumerated() {
                if arg.index > 5 { throw SpecError(at.key("args").index(j)["index"], "must be 0 to 5 (a syscall has six arguments), got \(arg.index)") }
                if SeccompNames.operators[arg.op] == nil { throw SpecError(at.key("args").index(j)["op"], "unknown operator \"\(arg.op)\"") }
            }
            for name in rule.names where seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR {
                warnings.append("\(at["names"]): unknown syscall \"\(name)\", skipped")
            }
        }
        if usesNotify {
            guard let listener = seccomp.listenerPath, !listener.isEmpty else {
                throw SpecError(path["listenerPath"], "required when an action is SCMP_ACT_NOTIFY")
            }
            var st = stat()
            guard stat(listener, &st) == 0 else {
                throw SpecError(path["listenerPath"], SystemError(listener, errno: errno).description)
            }
            flags |= SeccompNames.newListener
            // The kernel refuses TSYNC with a listener unless told to report ESRCH instead.
            if flags & 1 != 0 { flags |= 16 }
        }
        return SeccompFilter(
            program: [], flags: flags, listenerPath: usesNotify ? seccomp.listenerPath : nil,
            listenerMetadata: seccomp.listenerMetadata, warnings: warnings)
    }

    /// The action value; ERRNO and TRACE carry `errno` (EPERM by default).
    static func action(_ name: String, errno: UInt32?, at field: String) throws(SpecError) -> UInt32 {
        guard let base = SeccompNames.actions[name] else { throw SpecError(field, "unknown seccomp action \"\(name)\"") }
        if name == "SCMP_ACT_ERRNO" || name == "SCMP_ACT_TRACE" { return base | ((errno ?? UInt32(EPERM)) & 0xffff) }
        return base
    }

    /// The BPF program for a checked section.
    public static func compile(_ seccomp: Spec.Seccomp, path: JSONPath = JSONPath("linux.seccomp")) throws(SeccompError) -> [UInt8] {
        let context: scmp_filter_ctx
        do { context = try rules(of: seccomp, path: path) } catch { throw .config(error) }
        defer { seccomp_release(context) }
        do throws(SystemError) {
            let file = try FileDescriptor(checking: skiff_memfd("seccomp"), step: "creating a memfd for the filter")
            let rc = seccomp_export_bpf(context, file.rawValue)
            guard rc == 0 else { throw SystemError("exporting the filter", errno: -rc) }
            let size = lseek(file.rawValue, 0, SEEK_END)
            var program = [UInt8](repeating: 0, count: Int(max(size, 0)))
            let read = program.withUnsafeMutableBytes { pread(file.rawValue, $0.baseAddress, $0.count, 0) }
            guard read == size, size > 0 else { throw SystemError("reading the exported filter back", errno: read < 0 ? errno : EIO) }
            return program
        } catch { throw .system(error) }
    }

    /// libseccomp's context holding the section's rules (the caller releases it).
    private static func rules(of seccomp: Spec.Seccomp, path: JSONPath) throws(SpecError) -> scmp_filter_ctx {
        let defaultAction = try action(seccomp.defaultAction, errno: seccomp.defaultErrnoRet, at: path["defaultAction"])
        guard let context = seccomp_init(defaultAction) else { throw SpecError(path["defaultAction"], "libseccomp refused it") }
        var done = false
        defer { if !done { seccomp_release(context) } }
        for (i, name) in (seccomp.architectures ?? []).enumerated() {
            let token = seccomp_arch_resolve_name(SeccompNames.libseccompArchitecture(name) ?? "")
            let rc = seccomp_arch_add(context, token)
            if rc < 0 && rc != -EEXIST { throw SpecError(path.key("architectures")[i], SystemError("libseccomp", errno: -rc).description) }
        }
        for (i, rule) in (seccomp.syscalls ?? []).enumerated() {
            let at = path.key("syscalls").index(i)
            let ruleAction = try action(rule.action, errno: rule.errnoRet, at: at["action"])
            // libseccomp refuses a rule that repeats the default; it would change nothing.
            if ruleAction == defaultAction { continue }
            var comparisons: [scmp_arg_cmp] = []
            for (j, arg) in (rule.args ?? []).enumerated() {
                // `check` refuses these first; compile is public, so it refuses them too.
                guard let op = SeccompNames.operators[arg.op] else { throw SpecError(at.key("args").index(j)["op"], "unknown operator \"\(arg.op)\"") }
                comparisons.append(scmp_arg_cmp(arg: UInt32(arg.index), op: scmp_compare(rawValue: op), datum_a: arg.value, datum_b: arg.valueTwo ?? 0))
            }
            // One rule with every comparison, unless two compare the same argument (libseccomp
            // cannot AND those): then one rule per comparison, as runc does.
            let distinct = Set(comparisons.map(\.arg)).count == comparisons.count
            let groups = distinct ? [comparisons] : comparisons.map { [$0] }
            for name in rule.names {
                let number = seccomp_syscall_resolve_name(name)
                if number == __NR_SCMP_ERROR { continue }
                for group in groups {
                    let rc = group.withUnsafeBufferPointer {
                        seccomp_rule_add_array(context, ruleAction, number, UInt32($0.count), $0.baseAddress)
                    }
                    if rc < 0 && rc != -EEXIST {
                        throw SpecError(at.text, SystemError("libseccomp rejected the rule for \(name)", errno: -rc).description)
                    }
                }
            }
        }
        done = true
        return context
    }
}
