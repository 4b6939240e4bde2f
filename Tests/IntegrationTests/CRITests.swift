// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSystem
import Testing

/// Kubernetes' path to skiff: a kubelet's CRI calls to containerd (Debian's 1.6), whose CRI
/// plugin runs pods with the RuntimeClass handler `skiff` through the runc shim. The CRI client
/// is the tests' own (helpers/cri: runtime.proto's messages over gRPC, Debian's python3-grpcio).
/// containerd, its CRI state and the CNI bridge live in a network namespace the test made (the
/// node); cgroupfs on this hybrid host. The same scenario runs in the systemd VM with
/// `SystemdCgroup = true` (vm/systemd/checks.sh).
/// containerd's CRI suites run one at a time: each checks the node (its network namespaces,
/// cgroups) for what its pods left, which another suite's pods would look like.
@Suite("containerd's CRI plugin", .serialized) enum ContainerdCRI {}

/// The helpers' directory (cri.py, prepare-node.sh, the scenarios).
let criHelpers = Harness.repository + "/Tests/IntegrationTests/helpers/cri"

extension ContainerdCRI {
    @Suite(
        "under Kubernetes' CRI (containerd)", .serialized,
        .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/containerd") && FileManager.default.fileExists(atPath: "/usr/bin/protoc"))
    )
    final class CRITests {
        let node: CRINode
        let namespacesBefore = Set(listDirectory("/run/netns"))

        init() throws { node = try CRINode("skiff-cri", network: "bridge") }

        @Test func aPodOfTwoContainersRunsUnderSkiffAndLeavesNothing() throws {
            let environment = [
                "CGROUP_PARENT=/kubepods/besteffort/pod-skiff-cri", "SKIFF=\(Harness.skiff)", "SKIFF_ROOT=\(node.directory)/runtime/k8s.io",
            ]
            try node.scenario("pod-scenario.sh", environment: environment, checks: 39)
            // The node after the pod: no cgroup (the pod's parents included), address lease or
            // network namespace is left, and the shim's runtime root holds no container (only
            // skiff's per-root caches, dot files).
            #expect(try node.shell("find /sys/fs/cgroup -maxdepth 3 -name 'kubepods*'").output.isEmpty)
            #expect(listDirectory(node.directory + "/ipam/skiff-pods").allSatisfy { !$0.hasPrefix("10.99.") })
            // (containerd names a pod's network namespace cni-<uuid>; other suites' run beside.)
            #expect(!Set(listDirectory("/run/netns")).subtracting(namespacesBefore).contains { $0.hasPrefix("cni-") })
            #expect(listDirectory(node.directory + "/runtime/k8s.io").allSatisfy { $0.hasPrefix(".") })
        }
    }
}
