import Glibc
import SkiffRuntime

/// runc-style logging: messages go to stderr and, with `--log FILE`, to FILE as text
/// (`time=… level=error msg=…`) or JSON lines (`{"level":"error","msg":"…","time":"…"}`),
/// which is what containerd's shim and podman's conmon read back to show their users.
struct Log: Sendable {
    enum Format: String, Sendable { case text, json }

    var file: String?
    var format: Format = .text
    var debug = false

    func error(_ message: String) {
        Self.printError("skiff: \(message)\n")
        append("error", message)
    }

    func warning(_ message: String) {
        Self.printError("skiff: warning: \(message)\n")
        append("warning", message)
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
        let fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        _ = line.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    static func printError(_ line: String) {
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }

    static func now() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let nanos = String(now.tv_nsec)
        return String(cString: buffer) + "." + String(repeating: "0", count: 9 - nanos.count) + nanos + "Z"
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
