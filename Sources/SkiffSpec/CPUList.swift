// SPDX-License-Identifier: Apache-2.0
import SkiffSystem

/// A CPU or NUMA node list in the kernel's text form ("0-3,7"): `process.execCPUAffinity`,
/// `linux.memoryPolicy.nodes`, cpuset's `cpus` and `mems`, and the kernel's own `online` files.
public enum CPUList {
    /// The kernel's CPU_SETSIZE for sched_setaffinity(2)'s glibc mask; skiff-init's is the same.
    public static let maximumCPU = 1023

    /// The most CPUs a Linux kernel is built for (NR_CPUS, at most 8192): a bound on cpuset
    /// lists, so that "0-2000000000" is refused rather than enumerated.
    public static let maximumKernelCPU = 8191

    /// The numbers `text` names, ascending, or nil if it is not a list of numbers and ranges
    /// within 0...maximum. White space around the whole list is ignored (a kernel file ends
    /// with a newline); inside it, nothing but digits, '-' and ',' is.
    public static func parse(_ text: String, maximum: Int = maximumCPU) -> [Int]? {
        var cpus = Set<Int>()
        for part in text.trimmingWhitespace.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count),
                bounds.allSatisfy({ !$0.isEmpty && $0.count <= 5 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]), low <= high, high <= maximum
            else { return nil }
            cpus.formUnion(low...high)
        }
        return cpus.sorted()
    }
}
