// SPDX-License-Identifier: Apache-2.0
import CShims

/// The OCI names of seccomp actions, operators, architectures and flags, and what the kernel
/// and libseccomp call them.
public enum SeccompNames {
    public static var actionNames: [String] { actions.keys.sorted() }
    public static var operatorNames: [String] { operators.keys.sorted() }
    public static var flagNames: [String] { flags.keys.sorted() }
    /// The OCI architecture names this libseccomp knows.
    public static var architectureNames: [String] {
        let candidates = [
            "X86", "X86_64", "X32", "ARM", "AARCH64", "MIPS", "MIPS64", "MIPS64N32", "MIPSEL", "MIPSEL64",
            "MIPSEL64N32", "PPC", "PPC64", "PPC64LE", "S390", "S390X", "PARISC", "PARISC64", "RISCV64", "LOONGARCH64", "M68K", "SH", "SHEB",
        ]
        return candidates.map { "SCMP_ARCH_" + $0 }.filter { name in
            libseccompArchitecture(name).map { seccomp_arch_resolve_name($0) != 0 } ?? false
        }
    }

    /// SECCOMP_RET_* (the low 16 bits carry errno or the trace message).
    static let actions: [String: UInt32] = [
        "SCMP_ACT_KILL": 0x0000_0000, "SCMP_ACT_KILL_THREAD": 0x0000_0000,
        "SCMP_ACT_KILL_PROCESS": 0x8000_0000, "SCMP_ACT_TRAP": 0x0003_0000,
        "SCMP_ACT_ERRNO": 0x0005_0000, "SCMP_ACT_TRACE": 0x7ff0_0000,
        "SCMP_ACT_ALLOW": 0x7fff_0000, "SCMP_ACT_LOG": 0x7ffc_0000, "SCMP_ACT_NOTIFY": 0x7fc0_0000,
    ]

    /// enum scmp_compare.
    static let operators: [String: UInt32] = [
        "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
        "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
    ]

    /// SECCOMP_FILTER_FLAG_*.
    /// WAIT_KILLABLE_RECV needs a listener (and kernel 5.19); the others apply to any filter.
    static let flags: [String: UInt32] = [
        "SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32,
    ]
    static let newListener: UInt32 = 8

    /// "SCMP_ARCH_X86_64" -> libseccomp's "x86_64".
    static func libseccompArchitecture(_ name: String) -> String? {
        guard name.hasPrefix("SCMP_ARCH_"), name.count > 10 else { return nil }
        return name.dropFirst(10).lowercased()
    }
}
