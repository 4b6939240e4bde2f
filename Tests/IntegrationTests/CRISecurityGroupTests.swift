// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSystem
import Testing

/// Security groups for every pod: containerd's CRI plugin (Debian's 1.6) with the skiff
/// binary as its CNI plugin (a conflist of `"type": "skiff"` with the pod-annotations
/// capability), pods under runc's handler and under skiff's side by side
/// (helpers/cri/groups-scenario.sh). containerd lives in a network namespace of the test's own,
/// which plays the node: the bridge, veths, leases and rules are made there.
extension ContainerdCRI {
    @Suite(
        "pods' security groups through the CNI plugin (containerd's CRI)", .serialized,
        .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/containerd") && FileManager.default.fileExists(atPath: "/usr/bin/protoc"))
    )
    final class CRISecurityGroupTests {
        let directory = Harness.temporaryDirectory("skiff-cri-groups")
        var daemon: NodeNamespaceDaemon?
        let namespacesBefore = Set(listDirectory("/run/netns"))

        init() throws {
            let prepared = try shell("\(criHelpers)/prepare-node.sh \(directory) \(Harness.skiff) \(Harness.rootfs) cgroupfs skiff")
            #expect(prepared.status == 0, "\(prepared.output)")
            daemon = try NodeNamespaceDaemon(
                "/usr/bin/containerd", ["--config", directory + "/config.toml"], namespacePrefix: "skiff-crig-", log: directory + "/containerd.log")
            try Harness.waitFor(seconds: 15, every: 0.1) { try shell("/usr/bin/ctr -a \(directory)/containerd.sock version").status == 0 }
            let imported = try shell("/usr/bin/ctr -a \(directory)/containerd.sock -n k8s.io images import --no-unpack \(directory)/image.tar")
            #expect(imported.status == 0, "\(imported.output)")
        }

        deinit {
            let cri = "CRI_PYTHON_OUT=\(directory)/python \(criHelpers)/cri.py \(directory)/containerd.sock"
            _ = try? shell(
                "for pod in $(\(cri) ListPodSandbox '{}' | grep -o '\"id\": \"[0-9a-f]*' | cut -d'\"' -f4); do \(cri) StopPodSandbox \"{\\\"pod_sandbox_id\\\":\\\"$pod\\\"}\"; \(cri) RemovePodSandbox \"{\\\"pod_sandbox_id\\\":\\\"$pod\\\"}\"; done"
            )
            daemon?.stop(unmountingUnder: directory)
            _ = try? shell("rmdir /run/containerd/s /run/containerd 2>/dev/null; true")
            try? FileManager.default.removeItem(atPath: directory)
        }

        func shell(_ command: String) throws -> (status: Int32, output: String) {
            try PodmanTests.Shell().run(command, in: directory)
        }

        /// Runs a scenario of helpers/cri with this node's containerd; expects `checks` passes.
        func scenario(_ script: String, _ arguments: String = "", checks: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let daemon = try #require(daemon)
            let environment = [
                "SOCKET=\(directory)/containerd.sock", "CRI=\(criHelpers)/cri.py", "CRI_PYTHON_OUT=\(directory)/python",
                "LOG_DIRECTORY=\(directory)/logs", "NODE=/run/netns/\(daemon.namespace)", "STATE=\(directory)/scenario-state",
                "CNI_BIN=\(directory)/cni-bin", "SKIFF=\(Harness.skiff)",
            ]
            let scenario = try shell("env \(environment.joined(separator: " ")) \(criHelpers)/\(script) \(arguments) 2>&1")
            let lines = scenario.output.split(separator: "\n")
            #expect(scenario.status == 0 && !lines.contains { $0.hasPrefix("not ok") }, "\(scenario.output)", sourceLocation: sourceLocation)
            #expect(lines.filter { $0.hasPrefix("ok - ") }.count == checks, "\(scenario.output)", sourceLocation: sourceLocation)
        }

        @Test func webReachesDbAndOtherDoesNot() throws {
            let daemon = try #require(daemon)
            try scenario("groups-scenario.sh", checks: 18)
            // Every pod's network went with it: no lease (the node's lease directory goes with its
            // last lease), no task veth.
            let leases = NetworkNode.leaseDirectory(ofNamespace: "/run/netns/" + daemon.namespace)
            #expect(!FileManager.default.fileExists(atPath: leases), "\(listDirectory(leases))")
            let links = Harness.run("/usr/bin/nsenter", ["--net=/run/netns/" + daemon.namespace, "--", "ip", "-o", "link"]).stdout
            #expect(!links.contains("skv"), "\(links)")
            // containerd names a pod's network namespace cni-<uuid>: each goes with its pod.
            #expect(!Set(listDirectory("/run/netns")).subtracting(namespacesBefore).contains { $0.hasPrefix("cni-") })
        }

        /// containerd restarted between a pod's ADD and its DEL: the pods, their addresses and
        /// rules are as they were, and the DEL after the restart removes everything.
        @Test func containerdRestartedBetweenAddAndDelLosesNothing() throws {
            try scenario("survival-scenario.sh", "before-restart", checks: 3)
            try daemon?.restart()
            try Harness.waitFor(seconds: 15, every: 0.1) { try shell("/usr/bin/ctr -a \(directory)/containerd.sock version").status == 0 }
            try scenario("survival-scenario.sh", "after-restart", checks: 12)
            #expect(!Set(listDirectory("/run/netns")).subtracting(namespacesBefore).contains { $0.hasPrefix("cni-") })
        }

        /// The plugin killed at instants of ADD under containerd (a wrapper in its plugin
        /// directory kills skiff 0 to 40 ms in): containerd's DEL leaves nothing each time.
        @Test func pluginKilledMidAddThenDelLeavesNothing() throws {
            try scenario("survival-scenario.sh", "killed-adds", checks: 14 * 3 + 1)
            #expect(!Set(listDirectory("/run/netns")).subtracting(namespacesBefore).contains { $0.hasPrefix("cni-") })
        }
    }
}
