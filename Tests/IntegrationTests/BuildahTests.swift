// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// skiff under Debian's buildah, as `--runtime`: the scenario (helpers/buildah-scenario.sh,
/// also run in the systemd VM) builds in a working container and with `buildah bud`, in a
/// storage of the test's own (vfs).
@Suite("under buildah", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/buildah")))
final class BuildahTests {
    let directory = Harness.temporaryDirectory("skiff-buildah")

    var buildah: String { "buildah --root \(directory)/storage --runroot \(directory)/run --storage-driver vfs" }

    deinit {
        _ = try? PodmanTests.Shell().run("\(buildah) rm -a; \(buildah) rmi -a -f", in: directory)
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test func imageBuildsRunEveryStepInSkiff() throws {
        // buildah runs in the node's own network namespace: its steps must not touch it.
        let network = "ip -o link | cut -d: -f2; nft list ruleset 2>/dev/null | grep -c chain"
        let networkBefore = try PodmanTests.Shell().run(network, in: directory).output
        let scenario = try PodmanTests.Shell().run(
            "env BUILDAH='\(buildah)' SKIFF=\(Harness.skiff) ROOTFS=\(Harness.rootfs) SCRATCH=\(directory) \(Harness.repository)/Tests/IntegrationTests/helpers/buildah-scenario.sh 2>&1",
            in: directory)
        let lines = scenario.output.split(separator: "\n")
        #expect(scenario.status == 0 && !lines.contains { $0.hasPrefix("not ok") }, "\(scenario.output)")
        #expect(lines.filter { $0.hasPrefix("ok - ") }.count == 10, "\(scenario.output)")
        #expect(try PodmanTests.Shell().run(network, in: directory).output == networkBefore, "the node's links or firewall changed")
    }
}
