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
        static let helpers = criHelpers
        let directory = Harness.temporaryDirectory("skiff-cri")
        var daemon: NodeNamespaceDaemon?
        let namespacesBefore = Set(listDirectory("/run/netns"))

        init() throws {
            let prepared = try shell("\(Self.helpers)/prepare-node.sh \(directory) \(Harness.skiff) \(Harness.rootfs) cgroupfs")
            #expect(prepared.status == 0, "\(prepared.output)")
            daemon = try NodeNamespaceDaemon(
                "/usr/bin/containerd", ["--config", directory + "/config.toml"], namespacePrefix: "skiff-cri-", log: directory + "/containerd.log")
            try Harness.waitFor(seconds: 15, every: 0.1) { try shell("\(ctr) version").status == 0 }
            let imported = try shell("\(ctr) -n k8s.io images import --no-unpack \(directory)/image.tar")
            #expect(imported.status == 0, "\(imported.output)")
        }

        deinit {
            // A failed scenario may leave a pod: remove it as a kubelet would, then stop containerd.
            _ = try? shell(
                "for pod in $(\(cri) ListPodSandbox '{}' | grep -o '\"id\": \"[0-9a-f]*' | cut -d'\"' -f4); do \(cri) StopPodSandbox \"{\\\"pod_sandbox_id\\\":\\\"$pod\\\"}\"; \(cri) RemovePodSandbox \"{\\\"pod_sandbox_id\\\":\\\"$pod\\\"}\"; done"
            )
            daemon?.stop(unmountingUnder: directory)
            // The shims' sockets directory, if they left it empty.
            _ = try? shell("rmdir /run/containerd/s /run/containerd 2>/dev/null; true")
            try? FileManager.default.removeItem(atPath: directory)
        }

        var ctr: String { "/usr/bin/ctr -a \(directory)/containerd.sock" }
        var cri: String { "CRI_PYTHON_OUT=\(directory)/python \(Self.helpers)/cri.py \(directory)/containerd.sock" }

        func shell(_ command: String) throws -> (status: Int32, output: String) {
            try PodmanTests.Shell().run(command, in: directory)
        }

        @Test func aPodOfTwoContainersRunsUnderSkiffAndLeavesNothing() throws {
            let environment = [
                "SOCKET=\(directory)/containerd.sock", "CRI=\(Self.helpers)/cri.py", "CRI_PYTHON_OUT=\(directory)/python",
                "CGROUP_PARENT=/kubepods/besteffort/pod-skiff-cri", "LOG_DIRECTORY=\(directory)/logs", "SKIFF=\(Harness.skiff)",
                "SKIFF_ROOT=\(directory)/runtime/k8s.io",
            ]
            let scenario = try shell("env \(environment.joined(separator: " ")) \(Self.helpers)/pod-scenario.sh 2>&1")
            let lines = scenario.output.split(separator: "\n")
            #expect(scenario.status == 0 && !lines.contains { $0.hasPrefix("not ok") }, "\(scenario.output)")
            #expect(lines.filter { $0.hasPrefix("ok - ") }.count == 39, "\(scenario.output)")
            // The node after the pod: no cgroup (the pod's parents included), address lease or
            // network namespace is left, and the shim's runtime root holds no container (only
            // skiff's per-root caches, dot files).
            #expect(try shell("find /sys/fs/cgroup -maxdepth 3 -name 'kubepods*'").output.isEmpty)
            #expect(listDirectory(directory + "/ipam/skiff-pods").allSatisfy { !$0.hasPrefix("10.99.") })
            // (containerd names a pod's network namespace cni-<uuid>; other suites' run beside.)
            #expect(!Set(listDirectory("/run/netns")).subtracting(namespacesBefore).contains { $0.hasPrefix("cni-") })
            #expect(listDirectory(directory + "/runtime/k8s.io").allSatisfy { $0.hasPrefix(".") })
        }
    }
}
