// SPDX-License-Identifier: Apache-2.0
/// Names the kernel ABI gives numbers to, as the runtime-spec spells them.
public enum LinuxNames {
    /// Every Linux capability by its OCI name, numbered as in `<linux/capability.h>`.
    public static let capabilities: [String: Int] = {
        let names = [
            "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
            "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
            "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
            "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
            "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
            "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
            "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
        ]
        return Dictionary(uniqueKeysWithValues: names.enumerated().map { ("CAP_" + $1, $0) })
    }()

    /// `RLIMIT_*` names and their resource numbers (`<asm-generic/resource.h>`).
    public static let rlimits: [String: Int32] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
        "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
        "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
        "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]

    /// `process.scheduler.policy` names and their `SCHED_*` numbers (`<linux/sched.h>`).
    /// SCHED_ISO is reserved and has no implementation: the kernel refuses it.
    public static let schedulerPolicies: [String: Int32] = [
        "SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4,
        "SCHED_IDLE": 5, "SCHED_DEADLINE": 6,
    ]

    /// `process.scheduler.flags` names and their `SCHED_FLAG_*` bits (`<linux/sched.h>`).
    public static let schedulerFlags: [String: UInt64] = [
        "SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02, "SCHED_FLAG_DL_OVERRUN": 0x04,
        "SCHED_FLAG_KEEP_POLICY": 0x08, "SCHED_FLAG_KEEP_PARAMS": 0x10,
        "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20, "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40,
    ]

    /// `process.ioPriority.class` names and their `IOPRIO_CLASS_*` numbers (`<linux/ioprio.h>`).
    public static let ioPriorityClasses: [String: Int32] = ["IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3]

    /// `linux.memoryPolicy.mode` names and their `MPOL_*` numbers (`<linux/mempolicy.h>`).
    public static let memoryPolicyModes: [String: Int32] = [
        "MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3, "MPOL_LOCAL": 4, "MPOL_PREFERRED_MANY": 5,
        "MPOL_WEIGHTED_INTERLEAVE": 6,
    ]

    /// `linux.memoryPolicy.flags` names and their mode flag bits.
    public static let memoryPolicyFlags: [String: Int32] = [
        "MPOL_F_STATIC_NODES": 1 << 15, "MPOL_F_RELATIVE_NODES": 1 << 14, "MPOL_F_NUMA_BALANCING": 1 << 13,
    ]

    /// `linux.personality.domain` names and their `PER_*` numbers (`<linux/personality.h>`).
    public static let personalityDomains: [String: Int32] = ["LINUX": 0x0000, "LINUX32": 0x0008]

    /// Signal names with and without the `SIG` prefix, for `kill`.
    public static let signals: [String: Int32] = {
        let names: [(String, Int32)] = [
            ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("IOT", 6),
            ("BUS", 7), ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12),
            ("PIPE", 13), ("ALRM", 14), ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CONT", 18),
            ("STOP", 19), ("TSTP", 20), ("TTIN", 21), ("TTOU", 22), ("URG", 23), ("XCPU", 24),
            ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29), ("POLL", 29),
            ("PWR", 30), ("SYS", 31),
        ]
        var table: [String: Int32] = [:]
        for (name, number) in names {
            table[name] = number
            table["SIG" + name] = number
        }
        return table
    }()

    /// Parse a signal as `kill` takes it: `TERM`, `SIGTERM`, `15`, `RTMIN+3`.
    public static func signal(_ text: String) -> Int32? {
        let upper = text.uppercased()
        if let number = Int32(upper), number > 0, number <= 64 { return number }
        if let number = signals[upper] { return number }
        let bare = upper.hasPrefix("SIG") ? String(upper.dropFirst(3)) : upper
        if bare == "RTMIN" { return 34 }
        if bare == "RTMAX" { return 64 }
        if bare.hasPrefix("RTMIN+"), let n = Int32(bare.dropFirst(6)), 34 + n <= 64 { return 34 + n }
        if bare.hasPrefix("RTMAX-"), let n = Int32(bare.dropFirst(6)), 64 - n >= 34 { return 64 - n }
        return nil
    }
}
