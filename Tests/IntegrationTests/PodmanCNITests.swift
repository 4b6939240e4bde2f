// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// podman's CNI backend (Debian's podman 4.3, `network_backend = "cni"`) with skiff's CNI
/// plugin as the network's only plugin: containers get the config's default rules. podman runs
/// in a network namespace of the test's own (a `NetworkNode`), so the bridge, the veths and the
/// rules are made there; its storage, run directories and CNI files are the test's.
@Suite("podman's CNI backend with skiff's network", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/podman")))
final class PodmanCNITests {
    let directory = Harness.temporaryDirectory("skiff-podman-cni")
    let node = NetworkNode()
    static let bridge = "skiffpod0"

    init() throws {
        try FileManager.default.createDirectory(atPath: directory + "/cni", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/cni-bin", withIntermediateDirectories: true)
        // The plugin is the skiff binary under the name CNI looks for.
        try FileManager.default.createSymbolicLink(atPath: directory + "/cni-bin/skiff", withDestinationPath: Harness.skiff)
        try store.prepare(
            extra: """
                [network]
                network_backend = "cni"
                cni_plugin_dirs = ["\(directory)/cni-bin"]
                network_config_dir = "\(directory)/cni"
                """)
        // The network's default rules: tcp 8080 from anywhere; nothing else reaches a container.
        let conflist = """
            {"cniVersion": "1.0.0", "name": "skiff-tasks", "plugins": [
              {"type": "skiff", "bridge": "\(Self.bridge)", "subnet": "10.96.0.0/24", "ingress": "tcp 8080 0.0.0.0/0"}]}
            """
        try conflist.write(toFile: directory + "/cni/skiff-tasks.conflist", atomically: true, encoding: .utf8)
    }

    deinit { store.remove() }

    var store: PodmanStore { PodmanStore(directory: directory, launcher: "nsenter --net=/run/netns/\(node.name) ") }
    var podman: String { store.command }

    func shell(_ command: String) throws -> (status: Int32, output: String) {
        try PodmanTests.Shell().run(command, in: directory)
    }

    @Test func containersGetTheNetworksDefaultRules() throws {
        let server = try shell(
            "\(podman) run -d --name server --network skiff-tasks skiff-busybox sh -c 'nc -ll -p 8080 -e echo open & nc -ll -p 8081 -e echo shut & exec sleep 300'"
        )
        #expect(server.status == 0, "\(server.output)")
        let address = try shell("\(podman) inspect -f '{{(index .NetworkSettings.Networks \"skiff-tasks\").IPAddress}}' server").output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(address.hasPrefix("10.96.0."), "\(address)")
        #expect(node.leases(bridge: Self.bridge).map(\.address) == [address])
        // busybox nc's own timeout (SIGALRM) is blocked in containers' children here: a KILL bounds it.
        let client = try shell(
            "\(podman) run --rm --network skiff-tasks skiff-busybox sh -c 'sleep 0.3; timeout -s KILL 2 nc \(address) 8080; echo -; timeout -s KILL 2 nc \(address) 8081; echo -'"
        )
        let replies = client.output.split(separator: "\n").filter { $0 == "open" || $0 == "shut" || $0 == "-" }
        #expect(replies == ["open", "-", "-"], "8080 is open, 8081 is not: \(client.output)")
        // The node reads the rules back; the plugin's elements are there while the container runs.
        #expect(node.listRuleset().contains("skiff_\(Self.bridge)"))
        #expect(node.elements(of: "ingress_tasks", bridge: Self.bridge) == ["\"\(address)\""])

        let removed = try shell("\(podman) rm -f -t 0 server")
        #expect(removed.status == 0, "\(removed.output)")
        #expect(node.leases(bridge: Self.bridge).isEmpty)
        #expect(node.elements(of: "ingress_tasks", bridge: Self.bridge).isEmpty)
        node.expectNothingLeft()
    }
}
