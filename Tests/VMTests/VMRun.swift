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

    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Outcome {
        let (pid, output) = try spawn(executable, arguments, environment: environment ?? ProcessInfo.processInfo.environment)
        let text = String(decoding: output.readDataToEndOfFile(), as: UTF8.self)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let lines = text.split(separator: "\n").map(String.init)
        for failure in lines where failure.hasPrefix("not ok - ") {
            Issue.record("\(failure.dropFirst(9))")
        }
        return Outcome(lines: lines, text: text, status: status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
    }

    /// posix_spawn with every signal unblocked and at its default action: a test runs on a
    /// thread that blocks nearly all signals, which Foundation's `Process` hands down, and a
    /// VM script (and its qemu) with SIGTERM blocked cannot be ended by its watchdog's
    /// `timeout` or by its own trap (CI once lost an hour to a qemu that never saw SIGTERM).
    /// Output and errors come back on one pipe.
    private static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> (pid_t, FileHandle) {
        let output = Pipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output.fileHandleForWriting.fileDescriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, output.fileHandleForWriting.fileDescriptor, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        try output.fileHandleForWriting.close()
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        return (pid, output.fileHandleForReading)
    }
}
