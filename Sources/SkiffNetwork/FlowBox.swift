// SPDX-License-Identifier: Apache-2.0
/// A box of flows a rule allows: a closed range in each dimension (peer addresses,
/// protocols, and destination ports when the rule names them).
///
/// nftables' concatenated interval sets take no two elements that overlap, while a task's
/// rules may (`tcp 80 10.0.0.0/8` and `tcp 80-90 web`), so the boxes are cut into a
/// disjoint cover of their union before they become elements.
struct FlowBox: Hashable {
    var ranges: [ClosedRange<UInt32>]

    init(_ ranges: [ClosedRange<UInt32>]) { self.ranges = ranges }

    /// Disjoint boxes covering exactly the union of `boxes` (all of one dimension count),
    /// few of them: a sweep over the first dimension's cuts, each stretch's cover of the
    /// remaining dimensions computed once and stretches with equal covers merged. Sorted by
    /// the first dimension, so equal inputs give equal outputs.
    static func disjointUnion(of boxes: [FlowBox]) -> [FlowBox] {
        guard let dimensions = boxes.first?.ranges.count, dimensions > 0 else { return [] }
        var cuts = Set<UInt64>()
        for box in boxes {
            cuts.insert(UInt64(box.ranges[0].lowerBound))
            cuts.insert(UInt64(box.ranges[0].upperBound) + 1)
        }
        let sortedCuts = cuts.sorted()
        // Boxes entering and leaving at each cut, so each stretch's active boxes are known
        // without a scan of all of them.
        let byStart = Dictionary(grouping: boxes.indices) { UInt64(boxes[$0].ranges[0].lowerBound) }
        let byEnd = Dictionary(grouping: boxes.indices) { UInt64(boxes[$0].ranges[0].upperBound) + 1 }
        var active = Set<Int>()
        var result: [FlowBox] = []
        var open: (range: ClosedRange<UInt32>, rest: [FlowBox])?
        func close() {
            guard let stretch = open else { return }
            if dimensions == 1 {
                result.append(FlowBox([stretch.range]))
            } else {
                for inner in stretch.rest { result.append(FlowBox([stretch.range] + inner.ranges)) }
            }
            open = nil
        }
        for (i, cut) in sortedCuts.enumerated() where i + 1 < sortedCuts.count {
            for index in byEnd[cut] ?? [] { active.remove(index) }
            for index in byStart[cut] ?? [] { active.insert(index) }
            let low = UInt32(cut), high = UInt32(sortedCuts[i + 1] - 1)
            guard !active.isEmpty else {
                close()
                continue
            }
            let rest = dimensions == 1 ? [] : disjointUnion(of: active.sorted().map { FlowBox(Array(boxes[$0].ranges.dropFirst())) })
            if let stretch = open, stretch.rest == rest, stretch.range.upperBound &+ 1 == low {
                open = (stretch.range.lowerBound...high, rest)
            } else {
                close()
                open = (low...high, rest)
            }
        }
        close()
        return result
    }
}
