// SPDX-License-Identifier: Apache-2.0
import Glibc

/// The wall clock as RFC 3339 in UTC, and a monotonic stopwatch.
public enum SystemClock {
    /// Now as `2026-11-29T10:12:45.123456Z`, with `fractionDigits` digits of the second
    /// (6 for state records, as runc writes them; 9 for log lines).
    public static func rfc3339(fractionDigits: Int = 9) -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var time = tm()
        gmtime_r(&seconds, &time)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        var divisor = 1
        for _ in 0..<(9 - min(max(fractionDigits, 0), 9)) { divisor *= 10 }
        let fraction = fractionDigits > 0 ? "." + pad(Int(now.tv_nsec) / divisor, min(fractionDigits, 9)) : ""
        return "\(time.tm_year + 1900)-\(pad(Int(time.tm_mon) + 1, 2))-\(pad(Int(time.tm_mday), 2))"
            + "T\(pad(Int(time.tm_hour), 2)):\(pad(Int(time.tm_min), 2)):\(pad(Int(time.tm_sec), 2))\(fraction)Z"
    }
}

/// Milliseconds since it was made (CLOCK_MONOTONIC), for `--debug`'s step timings.
public struct Stopwatch: Sendable {
    private let start: timespec

    public init() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        start = now
    }

    public var milliseconds: Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec - start.tv_sec) * 1000 + Double(now.tv_nsec - start.tv_nsec) / 1e6
    }
}
