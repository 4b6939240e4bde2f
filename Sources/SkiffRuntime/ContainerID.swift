// SPDX-License-Identifier: Apache-2.0
/// A validated container id: safe to use as a directory name and a cgroup name.
public struct ContainerID: Hashable, Sendable, CustomStringConvertible {
    public static let maximumLength = 200
    public let value: String

    /// Ids follow runc's rule (letters, digits, `_`, `+`, `-`, `.`), are not `.` or `..`,
    /// and are at most `maximumLength` bytes, so they never escape `--root` or a cgroup.
    public init(_ value: String) throws(RuntimeError) {
        if value.isEmpty { throw RuntimeError.invalidID(value, "must not be empty") }
        if value.utf8.count > Self.maximumLength {
            throw RuntimeError.invalidID(Self.printable(String(value.prefix(32))) + "…", "longer than \(Self.maximumLength) characters")
        }
        if value == "." || value == ".." { throw RuntimeError.invalidID(value, "must not be \".\" or \"..\"") }
        let allowed = value.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
        }
        if !allowed { throw RuntimeError.invalidID(Self.printable(value), "only letters, digits, '_', '+', '-' and '.' are allowed") }
        self.value = value
    }

    public var description: String { value }

    /// `value` with control characters shown as `\xNN`: a refused id is echoed in the error,
    /// and an escape sequence in it must not reach the user's terminal or a log as one.
    static func printable(_ value: String) -> String {
        var text = ""
        for scalar in value.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) {
                let hex = String(scalar.value, radix: 16)
                text += "\\x" + (hex.count < 2 ? "0" : "") + hex
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        return text
    }
}
