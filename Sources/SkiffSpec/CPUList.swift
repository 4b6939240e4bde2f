// SPDX-License-Identifier: Apache-2.0
/// A CPU list in the kernel's text form ("0-3,7"), as `process.execCPUAffinity` gives it.
public enum CPUList {
    /// The kernel's CPU_SETSIZE for sched_setaffinity(2)'s glibc mask; skiff-init's is the same.
    public static let maximumCPU = 1023

    /// The CPUs `text` names, ascending, or nil if it is not a list of numbers and ranges
    /// within 0...maximumCPU.
    public static func parse(_ text: String) -> [Int]? {
        var cpus = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count),
                bounds.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]), low <= high, high <= maximumCPU
            else { return nil }
            cpus.formUnion(low...high)
        }
        return cpus.sorted()
    }
}
