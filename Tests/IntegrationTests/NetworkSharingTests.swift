// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffNetwork
import SkiffSpec
import Testing

/// The bridge, its tables and its chains belong to the node, not to one `--root`: leases and
/// rules are the node's, interfaces skiff did not make are not configured, and rule counts
/// either work or are refused up front. Each test's node is a network namespace of its own.
@Suite("network on a shared node", .serialized)
struct NetworkSharingTests {
    /// containerd keeps one root per namespace and podman has its own: two roots on one bridge
    /// never lease the same address, and deleting one root's task leaves the other's firewall.
    @Test func twoRootsOnOneBridgeShareNothing() throws {
        let node = NetworkNode()
        let otherRoot = Harness.temporaryDirectory("skiff-root2")
        defer {
            node.skiff(["delete", "--force", "web"], root: otherRoot)
            node.skiff(["delete", "--force", "intruder"], root: otherRoot)
            try? FileManager.default.removeItem(atPath: otherRoot)
        }
        node.startServer("db", ports: [5432], ["groups": "db", "ingress": "tcp 5432 web"])
        // The same id under the other root, and a task of its own.
        node.startServer("web", ports: [80], ["groups": "web"], root: otherRoot)
        node.startServer("intruder", ports: [80], ["groups": "other"], root: otherRoot)
        let owners = node.leaseOwners()
        #expect(owners.count == 3)
        #expect(Set(node.leases().map(\.address)).count == 3, "\(node.leases())")
        #expect(owners.filter { $0.hasPrefix(otherRoot + "/") }.count == 2)
        let db = try #require(node.address(of: "db"))
        #expect(node.connect(from: "web", to: db, port: 5432, root: otherRoot) == "db")
        #expect(node.connect(from: "intruder", to: db, port: 5432, root: otherRoot) == "")
        // The other root's "web" goes: db's chain is db's alone and still refuses the intruder.
        #expect(node.skiff(["delete", "--force", "web"], root: otherRoot).status == 0)
        #expect(node.connect(from: "intruder", to: db, port: 5432, root: otherRoot) == "")
        #expect(node.leases().count == 2)
        node.skiff(["delete", "--force", "intruder"], root: otherRoot)
        node.skiff(["delete", "--force", "db"])
        node.expectNothingLeft()
    }

    /// The uplink, `lo`, any interface that is not a bridge: refused before anything is made,
    /// and left exactly as it was.
    @Test func aBridgeAnnotationNamingANonBridgeIsRefused() {
        let node = NetworkNode()
        #expect(node.inNode(["ip", "link", "add", "uplink0", "type", "veth", "peer", "name", "uplink1"]).status == 0)
        for name in ["lo", "uplink0"] {
            let before = node.inNode(["ip", "-o", "addr", "show", "dev", name]).stdout
            let result = node.start("task-\(name)", node.spec("true", ["bridge": name]))
            #expect(result.status != 0)
            #expect(result.stderr.contains("annotations[\"io.skiff.network.bridge\"]: \"\(name)\" is an interface of the node that is not a bridge"), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
            #expect(node.inNode(["ip", "-o", "addr", "show", "dev", name]).stdout == before)
            #expect(!FileManager.default.fileExists(atPath: node.root + "/task-\(name)"))
        }
        node.expectNothingLeft()
    }

    /// A bridge someone else made (docker0, cni0) gets skiff's tasks and rules, but no address
    /// and no change of state from skiff.
    @Test func aBridgeSkiffDidNotMakeIsNotConfigured() {
        let node = NetworkNode()
        #expect(node.inNode(["ip", "link", "add", "othr0", "type", "bridge"]).status == 0)
        // Not without the operator's word: a tenant's annotation alone is refused, nothing made.
        let refused = node.start("guest", node.spec("exec sleep 1000", ["bridge": "othr0", "subnet": "10.78.0.0/24"]))
        #expect(refused.status != 0)
        #expect(
            refused.stderr.contains(
                "annotations[\"io.skiff.network.bridge\"]: \"othr0\" is a bridge skiff did not make, and the node's operator has not allowed skiff's tasks on it (join-bridge othr0 in /etc/skiff/network.conf)"
            ), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "not one line: \(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: node.root + "/guest"))
        node.expectNothingLeft()
        node.policy = "# the operator's\njoin-bridge othr0\n"
        let started = node.start("guest", node.spec("exec sleep 1000", ["bridge": "othr0", "subnet": "10.78.0.0/24"]))
        #expect(started.status == 0, "\(started.stderr)")
        #expect(node.address(of: "guest") == nil)  // its leases are othr0's
        let addresses = node.inNode(["ip", "-o", "-4", "addr", "show", "dev", "othr0"]).stdout
        #expect(!addresses.contains("inet"), "skiff addressed a bridge it did not make: \(addresses)")
        #expect(!node.inNode(["ip", "-o", "link", "show", "othr0"]).stdout.contains(",UP"), "skiff brought up a bridge it did not make")
        node.skiff(["delete", "--force", "guest"])
        // skiff's own bridge gets its gateway.
        #expect(node.start("own", node.spec("exec sleep 1000", ["groups": "own"])).status == 0)
        #expect(node.inNode(["ip", "-o", "-4", "addr", "show", "dev", "skiff0"]).stdout.contains("10.77.0.1/16"))
        node.skiff(["delete", "--force", "own"])
        node.expectNothingLeft()
    }

    /// A bridge someone else made with ports of others (Docker's containers on docker0, pods
    /// on cni0) is refused to skiff's first task there: their addresses are not in skiff's
    /// leases, and the task could be leased one and take its traffic. Without them it is joined.
    @Test func aBridgeWithPortsOfOthersIsRefused() {
        let node = NetworkNode()
        node.policy = "join-bridge othr1\n"
        for command in ["ip link add othr1 type bridge", "ip link add wkld0 type veth peer name wkld1", "ip link set wkld0 master othr1"] {
            #expect(node.inNode(command.split(separator: " ").map(String.init)).status == 0, "\(command)")
        }
        let network = ["bridge": "othr1", "subnet": "10.78.0.0/24", "address": "10.78.0.9"]
        let refused = node.start("guest", node.spec("exec sleep 1000", network))
        #expect(refused.status != 0)
        #expect(
            refused.stderr.contains("annotations[\"io.skiff.network.bridge\"]: \"othr1\" is a bridge skiff did not make, with ports of others (wkld0)"),
            "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "not one line: \(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: node.root + "/guest"))
        #expect(node.veths().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: node.leaseDirectory + "/othr1.leases"))
        #expect(!node.listRuleset().contains("skiff_othr1"))
        #expect(node.inNode(["ip", "link", "set", "wkld0", "nomaster"]).status == 0)
        let joined = node.start("guest2", node.spec("exec sleep 1000", network))
        #expect(joined.status == 0, "\(joined.stderr)")
        node.skiff(["delete", "--force", "guest2"])
        node.expectNothingLeft()
    }

    /// skiff makes bridges only under names starting `skiff`: a tenant must not make `docker0`
    /// or `cni0` before Docker or the CNI plugin does, which would adopt it and bring their
    /// workloads onto it. A bridge the node has is joined under any name.
    @Test func skiffMakesOnlyBridgesNamedSkiff() {
        let node = NetworkNode()
        for name in ["docker0", "cni0", "br-tasks"] {
            let result = node.start("squat", node.spec("true", ["bridge": name, "subnet": "10.79.0.0/24"]))
            #expect(result.status != 0)
            #expect(
                result.stderr.contains("annotations[\"io.skiff.network.bridge\"]: \"\(name)\" does not exist, and skiff makes only bridges named skiff*"),
                "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "not one line: \(result.stderr)")
            #expect(node.inNode(["ip", "link", "show", name]).status != 0, "\(name) was made")
            #expect(!FileManager.default.fileExists(atPath: node.root + "/squat"))
        }
        #expect(node.inNode(["ip", "link", "add", "br-tasks", "type", "bridge"]).status == 0)
        node.policy = "join-bridge br-tasks\n"
        let joined = node.start("guest", node.spec("exec sleep 1000", ["bridge": "br-tasks", "subnet": "10.79.0.0/24"]))
        #expect(joined.status == 0, "\(joined.stderr)")
        #expect(node.start("own", node.spec("exec sleep 1000", ["bridge": "skiff-tasks", "subnet": "10.80.0.0/24"])).status == 0)
        for id in ["guest", "own"] { node.skiff(["delete", "--force", id]) }
        node.expectNothingLeft()
    }

    /// Up to 4096 nftables rules per direction go in one transaction; more are refused up front.
    @Test func manyRulesWorkAndTooManyAreRefused() throws {
        let node = NetworkNode()
        let rules = (0..<NetworkRule.maximumRules).map { "tcp \(1000 + $0) 10.\($0 / 250).\($0 % 250).1/32" }
        let started = node.start("many", node.spec("exec sleep 1000", ["ingress": rules.joined(separator: "; "), "egress": rules.joined(separator: "; ")]))
        #expect(started.status == 0, "\(started.stderr)")
        #expect(node.elements(of: "ingress_exact").count == NetworkRule.maximumRules)
        #expect(node.elements(of: "egress_exact").count == NetworkRule.maximumRules)
        #expect(node.skiff(["delete", "--force", "many"]).status == 0)
        let tooMany = node.start("too-many", node.spec("true", ["ingress": (rules + ["tcp 80,81 10.0.0.0/8"]).joined(separator: "; ")]))
        #expect(tooMany.status != 0)
        #expect(
            tooMany.stderr.contains("annotations[\"io.skiff.network.ingress\"]: 4097 rules make 4098 nftables rules (one per port range); at most 4096 per direction"),
            "\(tooMany.stderr)")
        node.expectNothingLeft()
    }
}
