// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// The release binary is laid out by layout/skiff.order (see the Makefile's `build`): what a
/// command touches lies together, so the kernel's fault-around maps much less of skiff.
@Suite("the release binary's layout")
struct LayoutTests {
    struct Symbol {
        var address: UInt64
        var isCode: Bool
    }

    /// The names in the order, without its comment lines.
    static func orderedNames() throws -> [String] {
        try String(contentsOfFile: Harness.repository + "/layout/skiff.order", encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }

    /// Every sized symbol of the release binary, by name.
    static func symbols() throws -> [String: Symbol] {
        let listing = Harness.run("/usr/bin/nm", ["--defined-only", "-S", Harness.skiff])
        try #require(listing.status == 0, "nm: \(listing.stderr)")
        var symbols: [String: Symbol] = [:]
        for line in listing.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 4, let address = UInt64(fields[0], radix: 16) else { continue }
            symbols[String(fields[3])] = Symbol(address: address, isCode: "tTwW".contains(fields[2]))
        }
        return symbols
    }

    /// Code changes rename and remove symbols; when too few of the order's names are left, the
    /// layout has gone stale and `make layout` rewrites it.
    @Test func theOrderStillNamesTheBinarysSymbols() throws {
        let names = try Self.orderedNames()
        let symbols = try Self.symbols()
        let found = names.filter { symbols[$0] != nil }.count
        #expect(names.count > 1000)
        #expect(Double(found) >= 0.85 * Double(names.count), "\(found) of \(names.count) names left: run `make layout`")
    }

    /// The link followed the order: skiff's own functions (each in a section of its own) come in
    /// its order in the binary; with a link that ignored it, about half of the neighbours would
    /// be out of order. (The standard library's and glibc's come in whole objects.)
    @Test func theBinaryIsLinkedInTheOrder() throws {
        let symbols = try Self.symbols()
        let skiffs = try Self.orderedNames().filter { $0.hasPrefix("$s5skiff") || ($0.hasPrefix("$s") && $0.prefix(16).contains("Skiff")) }
        let code = skiffs.compactMap { name in symbols[name].flatMap { $0.isCode ? $0.address : nil } }.prefix(300)
        let ascending = zip(code, code.dropFirst()).filter { $0 <= $1 }.count
        #expect(code.count == 300)
        #expect(ascending >= 270, "only \(ascending) of \(code.count - 1) neighbours in order")
    }

    /// What the layout is for: a `run`'s peak resident set, 3.9-4.1 MiB laid out (4.6-4.8 with
    /// the valgrind traces alone: what only native runs touch was left in cold windows) against
    /// 6.5 MiB unordered. Measured by rss-probe (a tiny static parent: a child's peak counts its
    /// parent's image), on the second run (the first also compiles and caches the seccomp filter).
    @Test func runStaysSmallInMemory() throws {
        let sandbox = Sandbox(args: ["/bin/true"])
        sandbox.writeConfig()
        let report = sandbox.bundle + "/rss"
        var peak = 0
        for _ in 0..<2 {
            let probe = Harness.run(
                Harness.repository + "/.build/rss-probe",
                [report, Harness.skiff, "--root", sandbox.root, "run", "--bundle", sandbox.bundle, Harness.id("rss")])
            #expect(probe.status == 0, "\(probe.stderr)")
            let fields = try String(contentsOfFile: report, encoding: .utf8).split(separator: " ")
            peak = try #require(fields.count == 2 ? Int(fields[1].trimmingCharacters(in: .whitespacesAndNewlines)) : nil)
        }
        #expect(peak < 4608, "peak RSS \(peak) KiB: has the layout gone stale? (`make layout`)")
    }
}
