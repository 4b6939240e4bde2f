// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffRuntime
import SkiffSpec
import SkiffSystem

/// runc-style logging: messages go to stderr and, with `--log FILE`, to FILE as text
/// (`time=… level=error msg=…`) or JSON lines (`{"level":"error","msg":"…","time":"…"}`),
/// which is what containerd's shim and podman's conmon read back to show their users.
struct Log: Sendable {
    enum Format: String, Sendable { case text, json }

    var file: String?
    var format: Format = .text
    var debug = false

    init() {}

    /// From the global options `--log`, `--log-format` and `--debug`.
    init(_ args: Arguments) throws(UsageError) {
        file = args["log"]
        debug = args.has("debug")
        let name = args["log-format"] ?? "text"
        guard let format = Format(rawValue: name) else { throw UsageError(description: "--log-format: expected text or json, got \"\(name)\"") }
        self.format = format
    }

    func error(_ message: String) {
        Self.printError("skiff: \(message)\n")
        append("error", message)
    }

    func warning(_ message: String) {
        Self.printError("skiff: warning: \(message)\n")
        append("warning", message)
    }

    /// Said to a person at a terminal, and to the log file; a scheduler reading stderr
    /// gets only errors and warnings there.
    func info(_ message: String) {
        if isatty(STDERR_FILENO) != 0 { Self.printError("skiff: \(message)\n") }
        append("info", message)
    }

    func debug(_ message: String) {
        guard debug else { return }
        Self.printError("skiff: debug: \(message)\n")
        append("debug", message)
    }

    private func append(_ level: String, _ message: String) {
        guard let file else { return }
        let time = Self.now()
        let line: String
        switch format {
        case .json: line = "{\"level\":\"\(level)\",\"msg\":\(Self.quote(message)),\"time\":\"\(time)\"}\n"
        case .text: line = "time=\"\(time)\" level=\(level) msg=\(Self.quote(message))\n"
        }
        guard let log = try? FileDescriptor(opening: file, O_WRONLY | O_APPEND | O_CREAT, mode: 0o644, step: file) else { return }
        try? log.write(Array(line.utf8), step: file)
    }

    static func printError(_ line: String) {
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }

    static func now() -> String { SystemClock.rfc3339(fractionDigits: 9) }

    /// A JSON string literal.
    static func quote(_ text: String) -> String { JSONValue.quote(text) }
}
