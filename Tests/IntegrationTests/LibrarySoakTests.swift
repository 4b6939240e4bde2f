// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// SkiffRuntime embedded in a long-running process (Examples/LibrarySoak): a thousand
/// containers created, exec'd into, failed (a bad mount, a missing binary, an init killed
/// during create) and deleted in one process leave its descriptors and threads as they were.
@Suite("the library in a long-running process")
struct LibrarySoakTests {
    @Test(.timeLimit(.minutes(5))) func aThousandContainersLeaveNoDescriptorOrThread() throws {
        let binary = Harness.repository + "/.build/debug/library-soak"
        let root = Harness.temporaryDirectory("skiff-soak")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var environment = ProcessInfo.processInfo.environment
        environment["SKIFF_INIT"] = Harness.repository + "/.build/release/skiff-init"
        let result = Harness.run(binary, ["--rootfs", Harness.rootfs, "--root", root, "--rounds", "1000"], environment: environment)
        let text = result.stdout
        print(text.split(separator: "\n").filter { !$0.hasPrefix("round ") }.joined(separator: "\n"))
        #expect(result.status == 0, "\(text) \(result.stderr)")
        func line(_ prefix: String) -> String? { text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init) }
        #expect(line("rounds: ") == "rounds: 1000")
        // The failing kinds failed every time (200 each), the others never.
        #expect(line("failed runExecDelete: ") == "failed runExecDelete: 0", "\(text)")
        #expect(line("failed createStartDelete: ") == "failed createStartDelete: 0", "\(text)")
        for (kind, cause) in [("badMount", "skiff-no-such-filesystem"), ("missingBinary", "/no/such/binary"), ("killedInit", "skiff-init: exited before")] {
            let said = line("failed \(kind): ") ?? ""
            #expect(said.hasPrefix("failed \(kind): 200 (the first: ") && said.contains(cause), "\(text)")
        }
        let descriptors = try #require(line("descriptors: ")).split(separator: " ")
        #expect(descriptors[1] == descriptors[3], "descriptors leaked: \(descriptors)")
        let threads = try #require(line("threads: ")).split(separator: " ")
        #expect(threads[1] == threads[3], "threads leaked: \(threads)")
        #expect(line("containers left: ") == "containers left: 0")
        #expect(!text.contains("was created"), "\(text)")
    }
}
