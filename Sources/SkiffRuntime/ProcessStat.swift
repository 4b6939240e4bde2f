// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec
import SkiffSystem

/// What `/proc/PID/stat` says about a process: whether it still runs, and when it started
/// (to tell the container's process from a later one that reuses its pid).
struct ProcessStat {
    var state: Character
    var startTime: UInt64

    init?(pid: Int32) {
        guard pid > 0, let bytes = try? readFile("/proc/\(pid)/stat"), !bytes.isEmpty else { return nil }
        // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 2)...].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
        guard fields.count > 19, let first = fields[0].first,
            let start = UInt64(String(decoding: fields[19], as: UTF8.self))
        else { return nil }
        state = Character(Unicode.Scalar(first))
        startTime = start
    }

    var isAlive: Bool { state != "Z" && state != "X" }

    /// True when `pid` is alive and is the process that started at `startTime`.
    static func isRunning(pid: Int32, startTime: UInt64?) -> Bool {
        guard let stat = ProcessStat(pid: pid), stat.isAlive else { return false }
        return startTime == nil || stat.startTime == startTime
    }
}
