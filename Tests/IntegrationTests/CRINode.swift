// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSystem
import Testing

/// A node for containerd's CRI suites: containerd (Debian's 1.6) with its CRI plugin, in a
/// network namespace of its own that plays the node, prepared by helpers/cri/prepare-node.sh
/// (config, CNI network, images, compiled CRI messages) under `directory`; skiff is the
/// RuntimeClass handler `skiff`. Ending it removes the pods a failed scenario left, as a
/// kubelet would, then containerd, its mounts, namespace and directory.
final class CRINode {
    let directory: String
    private(set) var daemon: NodeNamespaceDaemon

    /// `network`: the pods' CNI network, `bridge` (the CNI bridge plugin's) or `skiff` (skiff's plugin).
    init(_ name: String, network: String) throws {
        directory = Harness.temporaryDirectory(name)
        let prepared = try PodmanTests.Shell().run(
            "\(criHelpers)/prepare-node.sh \(directory) \(Harness.skiff) \(Harness.rootfs) cgroupfs \(network)", in: directory)
        #expect(prepared.status == 0, "\(prepared.output)")
        daemon = try NodeNamespaceDaemon(
            "/usr/bin/containerd", ["--config", directory + "/config.toml"], namespacePrefix: name + "-", log: directory + "/containerd.log")
        try waitUntilServing()
        let imported = try shell("\(ctr) -n k8s.io images import --no-unpack \(directory)/image.tar")
        #expect(imported.status == 0, "\(imported.output)")
    }

    deinit {
        _ = try? shell(
            "for pod in $(\(cri) ListPodSandbox '{}' | grep -o '\"id\": \"[0-9a-f]*' | cut -d'\"' -f4); do \(cri) StopPodSandbox \"{\\\"pod_sandbox_id\\\":\\\"$pod\\\"}\"; \(cri) RemovePodSandbox \"{\\\"pod_sandbox_id\\\":\\\"$pod\\\"}\"; done"
        )
        daemon.stop(unmountingUnder: directory)
        // The shims' sockets directory, if they left it empty.
        _ = try? shell("rmdir /run/containerd/s /run/containerd 2>/dev/null; true")
        try? FileManager.default.removeItem(atPath: directory)
    }

    var ctr: String { "/usr/bin/ctr -a \(directory)/containerd.sock" }
    var cri: String { "CRI_PYTHON_OUT=\(directory)/python \(criHelpers)/cri.py \(directory)/containerd.sock" }
    /// The node's network namespace.
    var namespace: String { "/run/netns/" + daemon.namespace }

    func shell(_ command: String) throws -> (status: Int32, output: String) {
        try PodmanTests.Shell().run(command, in: directory)
    }

    /// containerd ended and started again, as after an upgrade or a crash.
    func restartContainerd() throws {
        try daemon.restart()
        try waitUntilServing()
    }

    /// containerd answers `ctr` before its CRI plugin has loaded its pods (every CRI call is
    /// "server is not initialized yet" until then), so the node serves when a CRI call works.
    private func waitUntilServing() throws {
        try Harness.waitFor(seconds: 30, every: 0.1) { try shell("\(ctr) version").status == 0 }
        try Harness.waitFor(seconds: 30, every: 0.2) { try shell("\(cri) ListPodSandbox '{}'").status == 0 }
    }

    /// Runs a scenario of helpers/cri against this node with `environment` added; expects it to
    /// end with status 0, no `not ok` line and `checks` `ok` lines.
    func scenario(
        _ script: String, _ arguments: String = "", environment: [String] = [], checks: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let common = [
            "SOCKET=\(directory)/containerd.sock", "CRI=\(criHelpers)/cri.py", "CRI_PYTHON_OUT=\(directory)/python", "LOG_DIRECTORY=\(directory)/logs",
            "NODE=\(namespace)",
        ]
        let scenario = try shell("env \((common + environment).joined(separator: " ")) \(criHelpers)/\(script) \(arguments) 2>&1")
        let lines = scenario.output.split(separator: "\n")
        #expect(scenario.status == 0 && !lines.contains { $0.hasPrefix("not ok") }, "\(scenario.output)", sourceLocation: sourceLocation)
        #expect(lines.filter { $0.hasPrefix("ok - ") }.count == checks, "\(scenario.output)", sourceLocation: sourceLocation)
    }
}
