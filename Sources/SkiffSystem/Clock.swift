// SPDX-License-Identifier: Apache-2.0
import Glibc

/// The wall clock as RFC 3339 in UTC, and a monotonic stopwatch.
public enum SystemClock {
    /// Now as `2026-11-29T10:12:45.123456Z`, with `fractionDigits` digits of the second
    /// (6 for state records, as runc writes them; 9 for log lines).
    public static func rfc3339(fractionDigits: Int = 9) -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return rfc3339(seconds: Int64(now.tv_sec), nanoseconds: Int(now.tv_nsec), fractionDigits: fractionDigits)
    }

    /// `seconds` after the epoch, in UTC by the Gregorian calendar. Worked out here, not by
    /// glibc's `gmtime_r`: that reads /etc/localtime the first time a process calls it (seven
    /// syscalls in every `create`) although UTC needs no zone.
    public static func rfc3339(seconds: Int64, nanoseconds: Int, fractionDigits: Int) -> String {
        let days = seconds.floorDividing(by: 86_400)
        let secondOfDay = seconds - days * 86_400
        let date = civilDate(daysSinceEpoch: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let digits = min(max(fractionDigits, 0), 9)
        var divisor = 1
        for _ in 0..<(9 - digits) { divisor *= 10 }
        let fraction = digits > 0 ? "." + pad(Int64(nanoseconds / divisor), digits) : ""
        return "\(pad(date.year, 4))-\(pad(date.month, 2))-\(pad(date.day, 2))"
            + "T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))\(fraction)Z"
    }

    /// The proleptic Gregorian date `days` after 1970-01-01: counted in 400-year eras from
    /// 0000-03-01, so that a leap day falls at the end of its year (Howard Hinnant's
    /// `civil_from_days`).
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468  // days from 0000-03-01
        let era = shifted.floorDividing(by: 146_097)
        let dayOfEra = shifted - era * 146_097  // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365  // 0...399
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // 0...365, from March
        let monthFromMarch = (5 * dayOfYear + 2) / 153  // 0...11
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (era * 400 + yearOfEra + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    /// Division rounding toward minus infinity (a date before 1970 is still in its day).
    fileprivate func floorDividing(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
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
