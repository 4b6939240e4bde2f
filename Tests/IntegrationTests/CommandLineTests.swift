// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// skiff's own command-line parsing, as runc's callers use it: global options before or after
/// the command, the command's own value winning, help built only when asked for, and bad
/// options named in one line.
@Suite("the command line")
struct CommandLineTests {
    /// `--log` given twice, globally and after the command: the command's own is the one used.
    @Test func theValueAfterTheCommandWins() throws {
        let directory = Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = directory + "/first.log", second = directory + "/second.log"
        let result = Harness.skiff(["--root", directory + "/state", "--log", first, "state", "no-such-container", "--log", second])
        #expect(result.status == 1)
        #expect(!FileManager.default.fileExists(atPath: first))
        #expect((try? String(contentsOfFile: second, encoding: .utf8))?.contains("no-such-container") == true)
    }

    /// A help text built from a list (`check --only`'s groups) is whole when asked for.
    @Test func helpIsBuiltWhenAskedFor() {
        let result = Harness.skiff(["check", "--help"])
        #expect(result.status == 0)
        // CheckGroup's cases, as `skiff check --only` takes them.
        for group in ["namespaces", "identity", "privilege", "seccomp", "filesystem", "resources", "network"] {
            #expect(result.stdout.contains(group), "\(group) is not in:\n\(result.stdout)")
        }
        #expect(result.stdout.contains("--only GROUP"))
    }

    /// An unknown option, a missing value, a value for a flag: one line naming it, status 1,
    /// and no state directory made.
    @Test(arguments: [
        (["list", "--bogus"], "unknown option --bogus"),
        (["list", "-Z"], "unknown option -Z"),
        (["create", "--bundle"], "--bundle needs a value"),
        (["--debug=1", "list"], "--debug takes no value"),
        (["list", "--rootless=maybe"], "--rootless: expected true, false or auto"),
    ])
    func badOptionsAreNamed(_ arguments: [String], _ message: String) {
        let root = NSTemporaryDirectory() + "skiff-cli-\(UUID().uuidString.prefix(8))"
        let result = Harness.skiff(["--root", root] + arguments)
        #expect(result.status == 1)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root))
    }
}
