// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import SkiffSystem
import Testing

/// Runs one of the VM scripts (they print TAP-style lines: "ok - …", "not ok - …") and records
/// every "not ok" as an issue.
enum VMRun {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    struct Outcome {
        var lines: [String]
        var text: String
        var status: Int32
        /// How and when the script ended, for whoever reads a failure: "exited with status 1
        /// after 612 s", "killed by signal 13 after 66 s".
        var ending: String
        var passed: Int { lines.filter { $0.hasPrefix("ok - ") }.count }
        /// The script's own totals line ("N passed, M failed"), if it got that far.
        var totals: (passed: Int, failed: Int)? {
            for line in lines.reversed() {
                let words = line.split(separator: " ")
                if words.count == 4, words[1] == "passed,", words[3] == "failed", let passed = Int(words[0]), let failed = Int(words[2]) {
                    return (passed, failed)
                }
            }
            return nil
        }

        /// Every check the script has ran and passed: exactly `count` `ok` lines, the totals
        /// line agreeing (a script that dies part-way prints none), and exit status 0.
        func expectAllPassed(_ count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(passed == count, "\(passed) of the \(count) checks passed:\n\(text)", sourceLocation: sourceLocation)
            let totals = self.totals
            #expect(totals?.passed == count && totals?.failed == 0, "the totals line says \(String(describing: totals))", sourceLocation: sourceLocation)
            #expect(status == 0, "the script \(ending):\n\(text)", sourceLocation: sourceLocation)
        }
    }

    /// The script's output goes to a file the script opens itself (posix_spawn's file
    /// actions), read once it has exited. Twice a CI run saw a VM script end with status 141
    /// (SIGPIPE) and no output, first with a pipe of Foundation's `Process`, then with a
    /// FileHandle handed to it: under the suite's concurrency the descriptor number `Process`
    /// gave the child had come to name another test's pipe. Nothing of this process's
    /// descriptors reaches the script now; it starts with no signal blocked
    /// (`Subprocess.spawn`).
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Outcome {
        let outputPath = NSTemporaryDirectory() + "skiff-vm-output-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let appended = Int32(O_WRONLY | O_CREAT | O_APPEND)
        let pid = try Subprocess.spawn(
            executable, arguments, environment: environment.map(Subprocess.environment),
            streams: [0: .file("/dev/null", flags: O_RDONLY), 1: .file(outputPath, flags: appended), 2: .descriptor(1)])
        let started = Date()
        let waitStatus = Subprocess.wait(pid)
        let status = Subprocess.exitCode(waitStatus)
        let seconds = Int(Date().timeIntervalSince(started))
        let ending = waitStatus & 0x7f == 0 ? "exited with status \(status) after \(seconds) s" : "killed by signal \(waitStatus & 0x7f) after \(seconds) s"
        let text = String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        for failure in lines where failure.hasPrefix("not ok - ") {
            Issue.record("\(failure.dropFirst(9))")
        }
        return Outcome(lines: lines, text: text, status: status, ending: ending)
    }
}
