// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
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
            #expect(status == 0, "\(text)", sourceLocation: sourceLocation)
        }
    }

    /// The script's output goes to a file, read once it has exited, not to a pipe: a CI run
    /// saw a VM script end with status 141 (SIGPIPE) and no output, its pipe's reading end
    /// gone from this process, many threads of which open and close descriptors; a file
    /// the script holds open cannot be closed under it.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let outputPath = NSTemporaryDirectory() + "skiff-vm-output-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: outputPath, contents: nil), let output = FileHandle(forWritingAtPath: outputPath) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: outputPath])
        }
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try withNoSignalsBlocked { try process.run() }
        try? output.close()
        process.waitUntilExit()
        let text = String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        for failure in lines where failure.hasPrefix("not ok - ") {
            Issue.record("\(failure.dropFirst(9))")
        }
        return Outcome(lines: lines, text: text, status: process.terminationStatus)
    }

    /// Runs `body` with this thread's signal mask empty. A test runs on a thread that blocks
    /// nearly every signal, and `Process` hands its mask down: a VM script (and its qemu) with
    /// SIGTERM blocked cannot be ended by `timeout` or by its own trap (CI once lost an hour to
    /// a qemu that never saw SIGTERM). Everything else is `Process`'s own (descriptors closed,
    /// a process group of the child's own).
    private static func withNoSignalsBlocked<T>(_ body: () throws -> T) rethrows -> T {
        var none = sigset_t(), saved = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }
}
