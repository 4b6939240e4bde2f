import Foundation
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
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(separator: "\n").map(String.init)
        for failure in lines where failure.hasPrefix("not ok - ") {
            Issue.record("\(failure.dropFirst(9))")
        }
        return Outcome(lines: lines, text: text, status: process.terminationStatus)
    }
}
