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
        let node: CRINode
        let namespacesBefore = Set(listDirectory("/run/netns"))

        init() throws { node = try CRINode("skiff-crig", network: "skiff") }

        func scenario(_ script: String, _ arguments: String = "", checks: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let environment = ["STATE=\(node.directory)/scenario-state", "CNI_BIN=\(node.directory)/cni-bin", "SKIFF=\(Harness.skiff)"]
            try node.scenario(script, arguments, environment: environment, checks: checks, sourceLocation: sourceLocation)
        }

        @Test func webReachesDbAndOtherDoesNot() throws {
            try scenario("groups-scenario.sh", checks: 18)
            // Every pod's network went with it: no lease (the node's lease directory goes with its
            // last lease), no task veth.
            let leases = NetworkNode.leaseDirectory(ofNamespace: node.namespace)
            #expect(!FileManager.default.fileExists(atPath: leases), "\(listDirectory(leases))")
            let links = Harness.run("/usr/bin/nsenter", ["--net=" + node.namespace, "--", "ip", "-o", "link"]).stdout
            #expect(!links.contains("skv"), "\(links)")
            // containerd names a pod's network namespace cni-<uuid>: each goes with its pod.
            #expect(!Set(listDirectory("/run/netns")).subtracting(namespacesBefore).contains { $0.hasPrefix("cni-") })
        }

        /// containerd restarted between a pod's ADD and its DEL: the pods, their addresses and
        /// rules are as they were, and the DEL after the restart removes everything.
        @Test func containerdRestartedBetweenAddAndDelLosesNothing() throws {
            try scenario("survival-scenario.sh", "before-restart", checks: 3)
            try node.restartContainerd()
            try scenario("survival-scenario.sh", "after-restart", checks: 12)
            #expect(!Set(listDirectory("/run/netns")).subtracting(namespacesBefore).contains { $0.hasPrefix("cni-") })
        }

        /// The plugin killed at instants of ADD under containerd (a wrapper in its plugin
        /// directory kills skiff after counting to 0 … 10,000, about 0 to 30 ms in here, and once
        /// its lease is in the file): containerd's DEL leaves nothing each time.
        @Test func pluginKilledMidAddThenDelLeavesNothing() throws {
            try scenario("survival-scenario.sh", "killed-adds", checks: 15 * 3 + 1)
            #expect(!Set(listDirectory("/run/netns")).subtracting(namespacesBefore).contains { $0.hasPrefix("cni-") })
        }
    }
}
