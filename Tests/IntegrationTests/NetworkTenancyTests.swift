// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffNetwork
import SkiffSpec
import Testing

/// Many tenants on one node: bridges that never affect each other, bridges someone else
/// made, a firewall reload, and rules whose kernel memory the task pays for. Each test's
/// node is a network namespace of its own.
@Suite("network for many tenants", .serialized)
struct NetworkTenancyTests {
    /// Tenant A on skiff0, tenant B on skiff1 (a subnet of its own): traffic on each bridge
    /// works while the other has tasks, and after the other's tasks are deleted.
    @Test func twoBridgesNeverAffectEachOther() throws {
        let node = NetworkNode()
        let a = ["groups": "a", "ingress": "tcp 80 a"], b = ["bridge": "skiff1", "subnet": "10.78.0.0/16", "groups": "b", "ingress": "tcp 80 b"]
        node.startServer("a-server", ports: [80], a)
        node.startServer("a-client", ports: [81], a)
        let aServer = try #require(node.address(of: "a-server"))
        #expect(node.connect(from: "a-client", to: aServer, port: 80) == "a-server")
        #expect(node.ping(from: "a-server", to: "10.77.0.1"))

        func tenantB() throws -> String {
            #expect(node.startServer("b-server", ports: [80], b).status == 0)
            #expect(node.startServer("b-client", ports: [81], b).status == 0)
            let server = try #require(node.leases(bridge: "skiff1").first { $0.id == "b-server" }?.address)
            #expect(node.connect(from: "b-client", to: server, port: 80) == "b-server")
            #expect(node.ping(from: "b-server", to: "10.78.0.1"))
            return server
        }
        let bServer = try tenantB()
        // During: A's traffic is untouched, and neither tenant reaches the other's server.
        #expect(node.connect(from: "a-client", to: aServer, port: 80) == "a-server")
        #expect(node.ping(from: "a-server", to: "10.77.0.1"))
        #expect(node.connect(from: "b-client", to: aServer, port: 80) == "")
        #expect(node.connect(from: "a-client", to: bServer, port: 80) == "")
        // After B's tasks are gone (its tables stay): A still works.
        for id in ["b-server", "b-client"] { #expect(node.skiff(["delete", "--force", id]).status == 0) }
        #expect(node.connect(from: "a-client", to: aServer, port: 80) == "a-server")
        #expect(node.ping(from: "a-client", to: "10.77.0.1"))
        // And the other way round: B again, A gone, B works.
        _ = try tenantB()
        for id in ["a-server", "a-client"] { #expect(node.skiff(["delete", "--force", id]).status == 0) }
        let server = try #require(node.leases(bridge: "skiff1").first { $0.id == "b-server" }?.address)
        #expect(node.connect(from: "b-client", to: server, port: 80) == "b-server")
        for id in ["b-server", "b-client"] { #expect(node.skiff(["delete", "--force", id]).status == 0) }
        node.expectNothingLeft()
    }

    /// The bridge skiff makes keeps the MAC it was made with while its ports come and go. A
    /// bridge given none takes its lowest port's, and changes it when that port leaves: every
    /// task's neighbour entry for the gateway then names a MAC the bridge no longer answers
    /// to, and the task is cut off from the node until the entry times out (15-45 s).
    @Test func theGatewaysMACOutlivesEveryPort() throws {
        let node = NetworkNode()
        let ids = ["m1", "m2", "m3"]
        for id in ids { #expect(node.startServer(id, ports: [80], ["groups": "m"]).status == 0) }
        // (ip netns exec: a sysfs of the node's own; the test's shows this namespace's links.)
        func bridge(_ file: String) -> String { Harness.run("/usr/bin/ip", ["netns", "exec", node.name, "cat", "/sys/class/net/skiff0/" + file]).output }
        let mac = bridge("address")
        #expect(mac.count == 17)
        #expect(bridge("addr_assign_type") == "3", "the bridge's MAC is not its own (NET_ADDR_SET)")
        // Each task learns the gateway's MAC now, and keeps it for the rest of the test.
        for id in ids { #expect(node.ping(from: id, to: "10.77.0.1"), "\(id)") }
        for id in ids.dropLast() {
            #expect(node.skiff(["delete", "--force", id]).status == 0)
            #expect(bridge("address") == mac, "the bridge's MAC changed when \(id) left")
            #expect(node.ping(from: "m3", to: "10.77.0.1"), "m3 lost its gateway when \(id) left")
        }
        #expect(node.skiff(["delete", "--force", "m3"]).status == 0)
        node.expectNothingLeft()
    }

    /// A bridge takes at most 1024 ports (the kernel's BR_MAX_PORTS): the create past that
    /// is one line that says so, and leaves nothing of its own.
    @Test func aFullBridgeIsOneLineAndLeavesNothing() throws {
        let node = NetworkNode()
        #expect(node.startServer("f1", ports: [80], ["groups": "f"]).status == 0)
        // 1022 more ports: veths of the test's own, their peers in a namespace whose deletion
        // takes all of them at once (one after another, each would wait for RCU).
        let filler = node.name + "-fill"
        #expect(Harness.run("/usr/bin/ip", ["netns", "add", filler]).status == 0)
        defer { Harness.run("/usr/bin/ip", ["netns", "del", filler]) }
        let batch = Harness.temporaryDirectory("skiff-fill") + "/batch"
        defer { try? FileManager.default.removeItem(atPath: (batch as NSString).deletingLastPathComponent) }
        let lines = (1...1022).map { "link add fh\($0) master skiff0 type veth peer name fp\($0) netns \(filler)" }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: batch))
        #expect(node.inNode(["ip", "-batch", batch]).status == 0)
        let refused = node.start("f2", node.spec("true", ["groups": "f"]))
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("the bridge has the kernel's maximum of 1024 ports"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(node.leases().map(\.id) == ["f1"])
        #expect(node.skiff(["state", "f2"]).status != 0)
        #expect(node.veths().count == 1, "\(node.veths())")
        #expect(node.skiff(["delete", "--force", "f1"]).status == 0)
        node.expectNothingLeft()
    }

    /// An idle bridge someone else made that holds an address of the node (docker0 with
    /// 172.17.0.1 before its first container): refused without the operator's word; with
    /// it, joined, and no task is ever leased an address of the node.
    @Test func aForeignBridgeHoldingTheNodesAddress() throws {
        let node = NetworkNode()
        for command in [
            "ip link add dock0 type bridge", "ip addr add 172.17.0.1/16 dev dock0", "ip link set dock0 up",
            // A second address of the node on the bridge, inside its subnet.
            "ip addr add 172.17.0.3/16 dev dock0",
        ] {
            #expect(node.inNode(command.split(separator: " ").map(String.init)).status == 0, "\(command)")
        }
        let network = ["bridge": "dock0", "subnet": "172.17.0.0/16"]
        let refused = node.start("t1", node.spec("exec sleep 1000", network))
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("the node's operator has not allowed skiff's tasks on it (join-bridge dock0 in"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "not one line: \(refused.stderr)")
        node.expectNothingLeft()

        node.policy = "join-bridge dock0\n"
        for address in ["172.17.0.3"] {
            let taken = node.start("own-\(address)", node.spec("true", network.merging(["address": address]) { $1 }))
            #expect(taken.status != 0)
            #expect(taken.stderr.contains("annotations[\"io.skiff.network.address\"]: \(address) is an address of the node"), "\(taken.stderr)")
            #expect(taken.stderr.split(separator: "\n").count == 1, "not one line: \(taken.stderr)")
        }
        #expect(node.start("t1", node.spec("exec sleep 1000", network)).status == 0)
        #expect(node.start("t2", node.spec("exec sleep 1000", network)).status == 0)
        let leased = node.leases(bridge: "dock0").map(\.address)
        #expect(leased.sorted() == ["172.17.0.2", "172.17.0.4"], "\(leased)")
        #expect(node.exec("t1", ["ping", "-c", "1", "-W", "1", "172.17.0.1"], caps: ["CAP_NET_RAW"]).status == 0)
        // skiff changed nothing of the bridge: its address is still the node's alone.
        #expect(node.inNode(["ip", "-o", "-4", "addr", "show", "dev", "dock0"]).stdout.contains("172.17.0.1/16"))
        // A subnet reaching over another link's route is refused, even on an allowed bridge.
        #expect(node.inNode(["ip", "link", "add", "up0", "type", "veth", "peer", "name", "up1"]).status == 0)
        #expect(node.inNode(["ip", "addr", "add", "10.90.0.1/24", "dev", "up0"]).status == 0)
        #expect(node.inNode(["ip", "link", "add", "dock1", "type", "bridge"]).status == 0)
        node.policy = "join-bridge dock0\njoin-bridge dock1\n"
        let overlapping = node.start("t3", node.spec("true", ["bridge": "dock1", "subnet": "10.90.0.0/16"]))
        #expect(overlapping.status != 0)
        #expect(overlapping.stderr.contains("annotations[\"io.skiff.network.subnet\"]: 10.90.0.0/16 overlaps the node's route "), "\(overlapping.stderr)")
        #expect(overlapping.stderr.contains("dev up0"), "\(overlapping.stderr)")
        // So is one holding an address of the node on another link.
        #expect(node.inNode(["ip", "addr", "add", "10.91.0.7/32", "dev", "lo"]).status == 0)
        let holding = node.start("t4", node.spec("true", ["bridge": "dock1", "subnet": "10.91.0.0/24"]))
        #expect(holding.stderr.contains("10.91.0.0/24 overlaps the node's route local 10.91.0.7 dev lo"), "\(holding.stderr)")
        for id in ["t1", "t2"] { node.skiff(["delete", "--force", id]) }
        node.expectNothingLeft()
    }

    /// `nft flush ruleset` (a firewall reload) takes every task's rules; the next create puts
    /// them all back from the leases. A table deleted alone does not stop `delete -f`.
    @Test func aReloadIsUndoneByTheNextOperation() throws {
        let node = NetworkNode()
        node.startServer("db", ports: [5432, 5433], ["groups": "db", "ingress": "tcp 5432 web"])
        node.startServer("web", ports: [80], ["groups": "web"])
        node.startServer("other", ports: [80], ["bridge": "skiff1", "subnet": "10.78.0.0/16"])
        let db = try #require(node.address(of: "db"))
        #expect(node.connect(from: "web", to: db, port: 5432) == "db")
        #expect(node.inNode(["nft", "flush", "ruleset"]).status == 0)
        // The reload opened everything: the intruder, not in web, reaches db.
        node.startServer("intruder", ports: [80], ["groups": "x"])
        #expect(node.connect(from: "intruder", to: db, port: 5432) == "", "the intruder got in after the next create")
        #expect(node.connect(from: "intruder", to: db, port: 5433) == "")
        #expect(node.connect(from: "web", to: db, port: 5432) == "db")
        #expect(node.connect(from: "web", to: db, port: 5433) == "")
        #expect(node.elements(of: "ingress_tasks").count == 3)
        // skiff1's tables came back too (its lock was free).
        #expect(node.elements(of: "ingress_tasks", bridge: "skiff1").count == 1)

        // One table gone: delete still works, and puts the other tasks' rules back.
        #expect(node.inNode(["nft", "delete", "table", "bridge", "skiff_skiff0"]).status == 0)
        #expect(node.skiff(["delete", "--force", "intruder"]).status == 0)
        #expect(node.elements(of: "senders", family: "bridge").count == 2)
        #expect(node.inNode(["nft", "delete", "table", "inet", "skiff_skiff0"]).status == 0)
        #expect(node.skiff(["delete", "--force", "web"]).status == 0)
        #expect(node.elements(of: "ingress_tasks").count == 1)
        for id in ["db", "other"] { #expect(node.skiff(["delete", "--force", id]).status == 0) }
        node.expectNothingLeft()
    }

    /// 20 tasks with 4096 rules a direction, created by a skiff in a memory cgroup of the
    /// test's own: the rules' kernel memory is the tasks', not their creator's.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.kmem.usage_in_bytes"), "cgroup v1 memory with kmem accounting"))
    func aTasksRulesArePaidForByTheTask() throws {
        let node = NetworkNode()
        let caller = "/sys/fs/cgroup/memory/" + node.name + "-caller"
        try FileManager.default.createDirectory(atPath: caller, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: caller) }
        func kernelMemory(_ cgroup: String) -> Int {
            Int(((try? String(contentsOfFile: cgroup + "/memory.kmem.usage_in_bytes", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let rules = (0..<NetworkRule.maximumRules).map { "tcp \(1000 + $0) 10.\($0 / 250).\($0 % 250).1/32" }.joined(separator: "; ")
        let before = kernelMemory(caller)
        let count = 20
        for i in 0..<count {
            var spec = node.spec("exec sleep 1000", ["ingress": rules, "egress": rules])
            spec.linux?.cgroupsPath = "/" + node.cgroupName(of: "r\(i)")
            let bundle = node.writeBundle("r\(i)", spec)
            node.track("r\(i)")
            // The creator joins the caller's cgroup first, as a shim or kubelet is in its own.
            let script = "echo $$ > \(caller)/cgroup.procs && exec \"$@\""
            let result = node.inNode(["/bin/sh", "-c", script, "sh", Harness.skiff, "--root", node.root, "run", "--detach", "--bundle", bundle, "r\(i)"])
            #expect(result.status == 0, "\(result.stderr)")
        }
        let grown = kernelMemory(caller) - before
        let task = kernelMemory("/sys/fs/cgroup/memory/" + node.cgroupName(of: "r0"))
        #expect(grown < count * 1_000_000, "the caller's kernel memory grew by \(grown) bytes for \(count) tasks")
        #expect(task > 500_000, "task r0's own kernel memory is \(task) bytes")
        print("kernel memory: the caller +\(grown / count) bytes a task; task r0 \(task) bytes")
        for i in 0..<count { node.skiff(["delete", "--force", "r\(i)"]) }
        node.expectNothingLeft()
    }
}
