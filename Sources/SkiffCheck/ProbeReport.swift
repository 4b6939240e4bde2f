// SPDX-License-Identifier: Apache-2.0
/// The probe's output: one `KEY VALUE` fact a line; some keys (mount, exe, interface)
/// repeat.
struct ProbeReport {
    private(set) var facts: [String: [String]] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = parts.first, !key.isEmpty else { continue }
            facts[String(key), default: []].append(parts.count > 1 ? String(parts[1]) : "")
        }
    }

    subscript(key: String) -> String? { facts[key]?.first }

    func all(_ key: String) -> [String] { facts[key] ?? [] }

    /// The probe ran to its end (a task killed half-way leaves this out).
    var isComplete: Bool { self["done"] == "1" }
}
