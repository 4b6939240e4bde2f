// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// Examples/TinyScheduler, built with the tests, embeds the library and runs for real.
@Suite("the example scheduler")
struct ExampleSchedulerTests {
    @Test func placesStartsStreamsAndStopsTasks() throws {
        let binary = Harness.repository + "/.build/debug/tiny-scheduler"
        let root = Harness.temporaryDirectory("skiff-tiny")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var environment = ProcessInfo.processInfo.environment
        environment["SKIFF_INIT"] = Harness.repository + "/.build/release/skiff-init"
        let result = Harness.run(binary, ["--rootfs", Harness.rootfs, "--root", root, "--seconds", "1"], environment: environment)
        let text = result.stdout
        #expect(result.status == 0, "\(text) \(result.stderr)")
        #expect(text.contains("placed web: 0.5 CPU, 64 MiB"))
        #expect(text.contains("rejected batch"))
        #expect(text.contains("started web, worker, cache"))
        // web is held to half a CPU: about 0.5 s of CPU in the first second.
        let webCPU =
            text.split(separator: "\n").last { $0.hasPrefix("t=1.0s web: cpu ") }
            .flatMap { Double($0.split(separator: " ")[3]) } ?? 0
        #expect(webCPU > 0.35 && webCPU < 0.65, "\(text)")
        #expect(text.contains("stopped web: exit status 137"))
        #expect(text.contains("done: 0 containers left"))
    }
}
