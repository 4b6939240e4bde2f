// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffNetwork
import SkiffSpec
import Testing

/// Each task its own machine on the wire: real packets between tasks on a bridge, in a
/// namespace that plays the node.
@Suite("network")
struct NetworkTests {
    /// A (group web), B (group db, ingress tcp 5432 and icmp from web) and C (no groups),
    /// as the issue lays them out, plus a task that joins web later.
    @Test func securityGroupsHoldBetweenTasks() throws {
        let node = NetworkNode()
        #expect(node.startServer("a", ports: [80], ["groups": "web"]).status == 0)
        #expect(node.startServer("b", ports: [5432, 5433], ["groups": "db", "ingress": "tcp 5432 web; icmp web"]).status == 0)
        #expect(node.startServer("c", ports: [80], ["bridge": "skiff0"]).status == 0)
        let a = try #require(node.address(of: "a")), b = try #require(node.address(of: "b")), c = try #require(node.address(of: "c"))
        #expect(Set([a, b, c]).count == 3)

        // Each task sees only its own interface, with its address and the default route.
        let inside = node.exec("a", ["sh", "-c", "ip -o -4 addr show; ip route"]).stdout
        #expect(inside.contains("eth0    inet \(a)/16"), "\(inside)")
        #expect(inside.contains("default via 10.77.0.1 dev eth0"), "\(inside)")

        #expect(node.connect(from: "a", to: b, port: 5432) == "b")  // web -> db:5432 allowed
        #expect(node.connect(from: "a", to: b, port: 5433) == "")  // another port is not
        #expect(node.connect(from: "c", to: b, port: 5432) == "")  // not in web
        #expect(node.connect(from: "b", to: a, port: 80) == "")  // A allows no ingress
        #expect(node.ping(from: "a", to: "10.77.0.1"))  // egress to the node is open
        #expect(!node.ping(from: "c", to: b))

        // A task that joins web later (as its second group) reaches B, and B's rules were not
        // touched for it: d is only in `members`.
        let bRules = node.elements(of: "ingress_group_ports")
        #expect(node.startServer("d", ports: [80], ["groups": "ops,web"]).status == 0)
        #expect(node.connect(from: "d", to: b, port: 5432) == "b")
        #expect(node.elements(of: "ingress_group_ports") == bRules)
        let d = try #require(node.address(of: "d"))
        #expect(node.elements(of: "members").filter { $0.contains("\"\(d)\"") }.count == 2, "\(node.elements(of: "members"))")
        // The operator reads it all back: every rule, the groups' rules by number.
        let ruleset = node.listRuleset()
        #expect(ruleset.contains("chain ingress_groups") && ruleset.contains("@members"), "\(ruleset)")

        // Spoofing: C sends B an echo request with A's (web) address. It never arrives.
        let echoesBefore = icmpEchoesReceived(node, "b")
        #expect(node.ping(from: "a", to: b))
        #expect(icmpEchoesReceived(node, "b") == echoesBefore + 1)
        let spoof = "ip addr add \(a)/32 dev eth0 && ip route add \(b)/32 dev eth0 src \(a) && ping -c 1 -W 1 \(b)"
        #expect(node.exec("c", ["sh", "-c", spoof], caps: ["CAP_NET_ADMIN", "CAP_NET_RAW"]).status != 0)
        #expect(icmpEchoesReceived(node, "b") == echoesBefore + 1, "a spoofed packet reached B")

        // Root in B's namespace with CAP_NET_ADMIN sees no rules there, flushing its tables
        // and moving to another address opens nothing.
        let bNamespace = "--net=/proc/\(node.pid(of: "b"))/ns/net"
        #expect(!Harness.run("/usr/bin/nsenter", [bNamespace, "nft", "list", "ruleset"]).stdout.contains("skiff"))
        #expect(Harness.run("/usr/bin/nsenter", [bNamespace, "nft", "flush", "ruleset"]).status == 0)
        #expect(node.connect(from: "c", to: b, port: 5432) == "")
        let moved = node.exec("b", ["sh", "-c", "ip addr flush dev eth0 && ip addr add 10.77.0.200/16 dev eth0"], caps: ["CAP_NET_ADMIN"])
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(node.connect(from: "c", to: "10.77.0.200", port: 5432) == "")
        #expect(node.connect(from: "a", to: "10.77.0.200", port: 5432) == "")
        #expect(!node.ping(from: "b", to: "10.77.0.1"))  // B's new address reaches nothing

        // C keeps its address but takes A's MAC: nothing it sends passes its port.
        #expect(node.ping(from: "c", to: "10.77.0.1"))
        let macOfA = (["02", "73"] + a.split(separator: ".").map { String(format: "%02x", Int($0)!) }).joined(separator: ":")
        let remac = node.exec("c", ["ip", "link", "set", "eth0", "address", macOfA], caps: ["CAP_NET_ADMIN", "CAP_NET_RAW"])
        #expect(remac.status == 0, "\(remac.stderr)")
        #expect(!node.ping(from: "c", to: "10.77.0.1"))

        for id in ["a", "b", "c", "d"] { #expect(node.skiff(["delete", "--force", id]).status == 0) }
        node.expectNothingLeft()
    }

    /// A bridge's last task takes its groups' rules along, and the bridge's next first task
    /// adds its own to the empty chains without flushing them (a flush would make the kernel's
    /// next close of an nf_tables socket wait for the deleted rules' destruction): groups are
    /// numbered afresh, and enforced as before.
    @Test func aBridgesNextFirstTaskNumbersItsGroupsAfresh() throws {
        let node = NetworkNode()
        for round in 0..<2 {
            // The second round swaps the groups and adds one that sorts first: every number differs.
            let (client, server) = round == 0 ? ("web", "db") : ("db", "web")
            let serverGroups = round == 0 ? server : "alpha,\(server)"
            #expect(node.startServer("s\(round)", ports: [5432, 5433], ["groups": serverGroups, "ingress": "tcp 5432 \(client)"]).status == 0)
            #expect(node.startServer("c\(round)", ports: [80], ["groups": client]).status == 0)
            #expect(node.startServer("o\(round)", ports: [80], ["groups": "other"]).status == 0)
            let s = try #require(node.address(of: "s\(round)"))
            // The node's ends are bridge ports without IPv6 (no route per port to file).
            for veth in node.veths() {
                #expect(node.inNode(["cat", "/proc/sys/net/ipv6/conf/\(veth)/disable_ipv6"]).stdout == "1\n", "\(veth)")
            }
            #expect(node.connect(from: "c\(round)", to: s, port: 5432) == "s\(round)")
            #expect(node.connect(from: "c\(round)", to: s, port: 5433) == "")
            #expect(node.connect(from: "o\(round)", to: s, port: 5432) == "")
            for id in ["s", "c", "o"] { #expect(node.skiff(["delete", "--force", "\(id)\(round)"]).status == 0) }
            node.expectNothingLeft()
        }
    }

    private func icmpEchoesReceived(_ node: NetworkNode, _ id: String) -> Int {
        // /proc/net/snmp: the second "Icmp:" line holds the counters; InEchos is the 9th.
        let lines = node.exec(id, ["grep", "Icmp:", "/proc/net/snmp"]).stdout.split(separator: "\n")
        guard lines.count >= 2 else { return -1 }
        let names = lines[0].split(separator: " "), values = lines[1].split(separator: " ")
        guard let index = names.firstIndex(of: "InEchos"), index < values.count else { return -1 }
        return Int(values[index]) ?? -1
    }

    @Test func egressRulesRestrictOutboundTraffic() throws {
        let node = NetworkNode()
        // A bridge someone else made is used as it is, when the operator allows it: its owner
        // brings it up and gives it the gateway; skiff only attaches its tasks.
        node.policy = "join-bridge skiff0\n"
        #expect(node.inNode(["ip", "link", "add", "skiff0", "type", "bridge"]).status == 0)
        #expect(node.inNode(["ip", "addr", "add", "10.77.0.1/16", "dev", "skiff0"]).status == 0)
        #expect(node.inNode(["ip", "link", "set", "skiff0", "up"]).status == 0)
        node.startServer("db", ports: [5432, 6379], ["groups": "db", "ingress": "tcp 5432,6379 10.77.0.0/16"])
        node.startServer("app", ports: [80], ["egress": "tcp 5432 db"])
        let sealed = node.startServer("sealed", ports: [80], ["egress": ""])
        let db = try #require(node.address(of: "db"))
        // The sealed task runs, with its address: its failed connection below is its rules'.
        #expect(sealed.status == 0, "\(sealed.stderr)")
        #expect(node.address(of: "sealed") != nil)
        #expect(node.exec("sealed", ["echo", "alive"]).output == "alive")
        #expect(node.connect(from: "app", to: db, port: 5432) == "db")
        #expect(node.connect(from: "app", to: db, port: 6379) == "")  // not in app's egress
        #expect(!node.ping(from: "app", to: "10.77.0.1"))
        #expect(node.connect(from: "sealed", to: db, port: 5432) == "")
        for id in ["db", "app", "sealed"] { node.skiff(["delete", "--force", id]) }
        node.expectNothingLeft()
    }

    /// A second container joining a task's network namespace by path shares its interface
    /// and rules; it gets no lease or veth of its own.
    @Test func containersJoiningATaskShareItsNetwork() throws {
        let node = NetworkNode()
        node.startServer("pod", ports: [80], ["groups": "web"])
        let address = try #require(node.address(of: "pod"))
        var sidecar = node.spec("exec sleep 1000", ["groups": "other"])
        let podNamespace = "/proc/\(node.pid(of: "pod"))/ns/net"
        var namespaces = sidecar.linux?.namespaces ?? []
        for i in namespaces.indices where namespaces[i].kind == .network { namespaces[i].path = podNamespace }
        sidecar.linux?.namespaces = namespaces
        #expect(node.start("sidecar", sidecar).status == 0)
        #expect(node.exec("sidecar", ["ip", "-o", "-4", "addr", "show", "eth0"]).stdout.contains(address))
        #expect(node.leases().count == 1)
        #expect(node.ping(from: "sidecar", to: "10.77.0.1"))

        // The owner goes first: its interface, rules and lease go with it, though the
        // sidecar still holds the namespace.
        node.skiff(["delete", "--force", "pod"])
        #expect(node.leases().isEmpty)
        #expect(node.veths().isEmpty)
        #expect(!node.exec("sidecar", ["ip", "-o", "link"]).stdout.contains("eth0"))
        #expect(!node.ping(from: "sidecar", to: "10.77.0.1"))
        node.skiff(["delete", "--force", "sidecar"])
        node.expectNothingLeft()
    }

    /// Fifty tasks created at once on one bridge: fifty distinct addresses, fifty group
    /// members, fifty ingress chains, and the rules work between them.
    @Test func fiftyTasksInParallel() async throws {
        let node = NetworkNode()
        let ids = (0..<50).map { "p\($0)" }
        await withTaskGroup(of: Void.self) { group in
            for id in ids {
                group.addTask { node.startServer(id, ports: [80], ["groups": "pool", "ingress": "tcp 80 pool"]) }
            }
        }
        let leases = node.leases()
        #expect(leases.count == 50)
        #expect(Set(leases.map(\.address)).count == 50)
        let tasks = node.elements(of: "ingress_tasks")
        #expect(tasks.count == 50 && leases.allSatisfy { tasks.contains("\"\($0.address)\"") }, "\(tasks)")
        // Each task's rule names the pool: one element each, and each is its member.
        #expect(node.elements(of: "ingress_group_ports").count == 50)
        #expect(node.elements(of: "members").count == 50)
        for id in ids {
            let address = try #require(node.address(of: id))
            let shown = node.exec(id, ["ip", "-o", "-4", "addr", "show", "eth0"])
            #expect(shown.stdout.contains(address + "/16"), "\(id): status \(shown.status), \(shown.stderr)")
        }
        #expect(node.connect(from: "p0", to: try #require(node.address(of: "p49")), port: 80) == "p49")
        #expect(node.connect(from: "p49", to: try #require(node.address(of: "p0")), port: 80) == "p0")
        await withTaskGroup(of: Void.self) { group in
            for id in ids { group.addTask { node.skiff(["delete", "--force", id]) } }
        }
        node.expectNothingLeft()
    }

    /// `create` killed at many instants, then `delete --force`: no veth, rule or lease. The
    /// instants spread over the whole create (its network setup alone takes ~35 ms here), and
    /// some rounds must have been killed with a lease or a veth already made: otherwise every
    /// kill landed before the network, and the test proved nothing about the network's undo.
    @Test func killedCreateLeavesNoNetwork() throws {
        let node = NetworkNode()
        let spec = node.spec("exec sleep 1000", ["groups": "web", "ingress": "tcp 80 web"])
        let bundle = node.writeBundle("killed", spec)
        var killedMidNetwork = 0
        for instant in 0..<16 {
            let id = "k\(instant)"
            let create = Harness.start(
                ["--net=/run/netns/\(node.name)", "--", Harness.skiff, "--root", node.root, "create", "--bundle", bundle, id],
                executable: "/usr/bin/nsenter")
            usleep(UInt32(2000 + instant * 6000))  // 2 to 92 ms
            kill(create.pid, SIGKILL)
            _ = create.finish()
            // What the killed create left for delete --force: a lease naming it, or a task veth.
            if node.leases().contains(where: { $0.id == id }) || !node.veths().isEmpty { killedMidNetwork += 1 }
            #expect(node.skiff(["delete", "--force", id]).status == 0)
            #expect(!node.leases().contains { $0.id == id }, "round \(instant) left its lease behind")
        }
        #expect(killedMidNetwork > 0, "no kill landed after the network was made: the rounds proved nothing about its undo")
        node.expectNothingLeft()
    }

    /// `skiff check` proves a task's network from inside it: its interface and address, and
    /// which peers the rules let it reach.
    @Test func checkProvesTheRulesFromInside() throws {
        let node = NetworkNode()
        node.startServer("db", ports: [5432, 5433], ["groups": "db", "ingress": "tcp 5432 web"])
        let db = try #require(node.address(of: "db"))
        let bundle = node.writeBundle("checked", node.spec("true", ["groups": "web"]))
        let policy = bundle + "/policy.yaml"
        try "reachable: [\"tcp:\(db):5432\"]\nunreachable: [\"tcp:\(db):5433\"]\n".write(toFile: policy, atomically: true, encoding: .utf8)
        var result = node.skiff(["check", "--only", "network", "--policy", policy, bundle])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("eth0 in 10.77.0.0/16"), "\(result.stdout)")
        // A policy that claims db:5432 is out of reach fails: the rules let web in.
        try "unreachable: [\"tcp:\(db):5432\"]\n".write(toFile: policy, atomically: true, encoding: .utf8)
        result = node.skiff(["check", "--only", "network", "--policy", policy, bundle])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        node.skiff(["delete", "--force", "db"])
        node.expectNothingLeft()
    }

    /// `skiff check` waits out TCP's retransmissions before it calls a peer unreachable: with
    /// the first two SYNs lost in the node (sent at 0 and 1 s), the third is answered (sent at
    /// 3 s, or at 2 s where the kernel's tcp_syn_linear_timeouts spaces them evenly).
    @Test func checkWaitsOutLostSYNs() throws {
        let node = NetworkNode()
        node.startServer("db", ports: [5432], ["groups": "db", "ingress": "tcp 5432 web"])
        let db = try #require(node.address(of: "db"))
        // The test's own table in its node: of the SYNs to 5432, the first two of every three drop.
        let lossy = node.inNode([
            "nft",
            "add table bridge lossy; add chain bridge lossy forward { type filter hook forward priority -400; }; "
                + "add rule bridge lossy forward tcp dport 5432 tcp flags & (syn | ack) == syn numgen inc mod 3 != 2 counter drop",
        ])
        #expect(lossy.status == 0, "\(lossy.stderr)")
        let bundle = node.writeBundle("checked", node.spec("true", ["groups": "web"]))
        try "reachable: [\"tcp:\(db):5432\"]\n".write(toFile: bundle + "/policy.yaml", atomically: true, encoding: .utf8)
        let result = node.skiff(["check", "--only", "network", "--policy", bundle + "/policy.yaml", bundle])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let dropped = node.inNode(["nft", "list", "table", "bridge", "lossy"]).stdout
        #expect(dropped.contains("packets 2 "), "\(dropped)")
        node.inNode(["nft", "delete", "table", "bridge", "lossy"])
        node.skiff(["delete", "--force", "db"])
        node.expectNothingLeft()
    }

    /// Tasks coming and going at once on one bridge: the lease count keeps falling to zero,
    /// when the last release removes the node's lock file while other creates wait on it.
    /// Each must then lock the file that is there, or two would share an address.
    @Test func tasksComingAndGoingAtOnceShareNothing() async throws {
        let node = NetworkNode()
        let bundle = node.writeBundle("brief", node.spec("ip -o -4 addr show eth0", ["groups": "web"]))
        let failed = await withTaskGroup(of: [String].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    (0..<8).compactMap { round in
                        let result = node.skiff(["run", "--bundle", bundle, "brief-\(worker)-\(round)"])
                        return result.status == 0 && result.stdout.contains("inet 10.77.0.") ? nil : result.stderr + result.stdout
                    }
                }
            }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(failed.isEmpty, "\(failed)")
        node.expectNothingLeft()
    }

    /// `delete` run from another network namespace (containerd's, say) finds the node the
    /// task was created from and cleans up there.
    @Test func deleteFromAnotherNamespaceCleansTheNode() throws {
        let node = NetworkNode()
        node.startServer("t", ports: [80], ["groups": "web"])
        #expect(Harness.skiff(["--root", node.root, "delete", "--force", "t"]).status == 0)
        node.expectNothingLeft()
    }

    /// A node namespace that is gone took its bridge, veths and rules with it: `delete`
    /// releases the lease and the state.
    @Test func deleteAfterTheNodeIsGone() throws {
        let node = NetworkNode()
        node.startServer("t", ports: [80], ["groups": "web"])
        #expect(Harness.run("/usr/bin/ip", ["netns", "delete", node.name]).status == 0)
        #expect(Harness.skiff(["--root", node.root, "delete", "--force", "t"]).status == 0)
        #expect(node.leases().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: node.root + "/t"))
        #expect(Harness.run("/usr/bin/ip", ["netns", "add", node.name]).status == 0)  // for the node's own clean-up
    }
}

/// Rules naming 257 groups.
private let manyGroups = (1...257).map { "tcp 80 g\($0)" }.joined(separator: "; ")

/// Bad network input: one line naming the annotation, and nothing left behind.
@Suite("network bad input")
struct NetworkBadInputTests {
    @Test(arguments: [
        (["subnet": "10.77.0.0/33"], "annotations[\"io.skiff.network.subnet\"]: \"10.77.0.0/33\" is not an IPv4 CIDR"),
        (["address": "10.99.0.5"], "annotations[\"io.skiff.network.address\"]: 10.99.0.5 is not a task address of the subnet"),
        (["ingress": "tcp 65536 web"], "annotations[\"io.skiff.network.ingress\"]: rule 1 (\"tcp 65536 web\"): port \"65536\" is out of range"),
        (["egress": "gre 10.0.0.0/8"], "annotations[\"io.skiff.network.egress\"]: rule 1 (\"gre 10.0.0.0/8\"): unknown protocol \"gre\""),
        (["groups": "web;db"], "annotations[\"io.skiff.network.groups\"]: group \"web;db\""),
        (["ingress": "tcp 80 we.b"], "annotations[\"io.skiff.network.ingress\"]: rule 1 (\"tcp 80 we.b\"): group \"we.b\""),
        (["bridge": "skiff-bridge-0001"], "annotations[\"io.skiff.network.bridge\"]: \"skiff-bridge-0001\": an interface name has 1 to 15 characters"),
        (["mtu": "1500"], "annotations[\"io.skiff.network.mtu\"]: unknown network annotation"),
        (["subnet": "8.8.8.0/30"], "annotations[\"io.skiff.network.subnet\"]: 8.8.8.0/30 is not private address space"),
        (["subnet": "169.254.169.252/30"], "annotations[\"io.skiff.network.subnet\"]: 169.254.169.252/30 is not private address space"),
        (["subnet": "8.0.0.0/7"], "annotations[\"io.skiff.network.subnet\"]: a /7 subnet is not allowed"),
        // Each group of a bridge has rules every new flow passes: a bridge has at most 256.
        (["ingress": manyGroups], "annotations[\"io.skiff.network.ingress\"]: 257 new groups on bridge skiff0, which has 0 of at most 256"),
    ])
    func badAnnotation(annotation: [String: String], message: String) {
        let node = NetworkNode()
        let result = node.start("bad", node.spec("true", annotation))
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "not one line: \(result.stderr)")
        expectNothingLeft(node, "bad")
    }

    /// Found only at setup, after the task's process exists: still one line, nothing left.
    @Test func anAddressAlreadyLeased() throws {
        let node = NetworkNode()
        #expect(node.start("holder", node.spec("exec sleep 1000", ["address": "10.77.0.9"])).status == 0)
        let result = node.start("bad", node.spec("true", ["address": "10.77.0.9", "groups": "web"]))
        #expect(result.status != 0)
        #expect(result.stderr.contains("annotations[\"io.skiff.network.address\"]: 10.77.0.9 is leased to container \"holder\""), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "not one line: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: node.root + "/bad"))
        #expect(node.leases().map(\.id) == ["holder"])
        #expect(node.elements(of: "ingress_tasks").count == 1)
        node.skiff(["delete", "--force", "holder"])
        node.expectNothingLeft()
    }

    /// A subnet skiff would put on a bridge may not take the node's own traffic: one that
    /// overlaps a route of the node (its networks, its addresses, a blackhole, another
    /// bridge's tasks) or holds its router is refused, naming the route; the node's routes
    /// are as they were, and no bridge, state or lease is left. A bridge's own routes are
    /// its subnet's: a task on an idle skiff bridge is not refused by them.
    @Test func aSubnetThatWouldTakeTheNodesTrafficIsRefused() throws {
        let node = NetworkNode()
        for command in [
            "ip link add uplink0 type veth peer name uplink1", "ip addr add 10.60.0.5/24 dev uplink0", "ip link set uplink1 up",
            "ip link set uplink0 up",
            "ip route add default via 10.70.0.1 dev uplink0 onlink", "ip route add blackhole 192.168.50.0/24",
            "ip route add 192.168.61.0/24 nexthop via 10.60.0.7 dev uplink0 nexthop via 10.60.0.8 dev uplink0",
        ] {
            #expect(node.inNode(command.split(separator: " ").map(String.init)).status == 0, "\(command)")
        }
        #expect(node.start("holder", node.spec("exec sleep 1000", ["groups": "web"])).status == 0)
        let routes = node.inNode(["ip", "-4", "route", "show", "table", "all"]).stdout
        let field = "annotations[\"io.skiff.network.subnet\"]: "
        let cases = [
            ("10.60.0.0/30", "overlaps the node's route 10.60.0.0/24 dev uplink0"),
            ("10.60.0.4/30", "overlaps the node's route "),  // the network, or the node's address in it
            ("10.70.0.0/30", "holds 10.70.0.1, the gateway of the node's route default via 10.70.0.1 dev uplink0"),
            ("10.0.0.0/8", "the node's route "),  // the first of several
            ("10.77.4.0/24", "overlaps the node's route 10.77.0.0/16 dev skiff0"),
            ("192.168.50.0/25", "overlaps the node's route blackhole 192.168.50.0/24"),
            ("192.168.61.128/25", "overlaps the node's route 192.168.61.0/24 via 10.60.0.7 dev uplink0"),  // multipath
        ]
        for (subnet, message) in cases {
            let result = node.start("bad", node.spec("true", ["bridge": "skifftaker0", "subnet": subnet]))
            #expect(result.status != 0)
            #expect(result.stderr.contains(field + subnet + " ") && result.stderr.contains(message), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "not one line: \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: node.root + "/bad"))
            #expect(node.inNode(["ip", "link", "show", "skifftaker0"]).status != 0, "bridge skifftaker0 was made")
            #expect(!FileManager.default.fileExists(atPath: node.leaseDirectory + "/skifftaker0.leases"))
            #expect(node.leases().map(\.id) == ["holder"])
        }
        #expect(node.inNode(["ip", "-4", "route", "show", "table", "all"]).stdout == routes)
        // A free subnet is taken; skiff0 idle (its lease file gone) takes its own subnet again.
        #expect(node.start("free", node.spec("exec sleep 1000", ["bridge": "skifffree0", "subnet": "10.61.0.0/24"])).status == 0)
        #expect(node.exec("free", ["ip", "-o", "-4", "addr", "show", "eth0"]).stdout.contains("10.61.0.2/24"))
        #expect(node.skiff(["delete", "--force", "holder"]).status == 0)
        let again = node.start("again", node.spec("exec sleep 1000", ["groups": "web"]))
        #expect(again.status == 0, "\(again.stderr)")
        for id in ["free", "again"] { node.skiff(["delete", "--force", id]) }
        node.expectNothingLeft()
    }

    /// Two bridges asked for overlapping subnets at once: the check and the address are one
    /// step under the node's lock, so exactly one of the two gets its subnet.
    @Test func overlappingSubnetsAtOnceOneWins() async {
        let node = NetworkNode()
        for round in 0..<8 {
            let asked = [("a\(round)", "10.8\(round).0.0/16"), ("b\(round)", "10.8\(round).7.0/24")]
            let started = await withTaskGroup(of: Int32.self) { group in
                for (id, subnet) in asked {
                    group.addTask { node.start(id, node.spec("exec sleep 1000", ["bridge": "skiff\(id)", "subnet": subnet])).status }
                }
                return await group.reduce(into: [Int32]()) { $0.append($1) }
            }
            #expect(started.filter { $0 == 0 }.count == 1, "round \(round): \(started)")
        }
        for round in 0..<8 { for id in ["a\(round)", "b\(round)"] { node.skiff(["delete", "--force", id]) } }
        #expect(!FileManager.default.fileExists(atPath: node.leaseDirectory))
    }

    @Test func aTaskInTheHostNetworkCannotHaveItsOwn() {
        let node = NetworkNode()
        var spec = node.spec("true", ["groups": "web"])
        spec.linux?.namespaces?.removeAll { $0.kind == .network }
        let result = node.start("bad", spec)
        #expect(result.status != 0)
        #expect(result.stderr.contains("a task's own network needs a new network namespace"), "\(result.stderr)")
        expectNothingLeft(node, "bad")
    }

    private func expectNothingLeft(_ node: NetworkNode, _ id: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!FileManager.default.fileExists(atPath: node.root + "/" + id), "state left", sourceLocation: sourceLocation)
        node.expectNothingLeft(sourceLocation: sourceLocation)
        let cgroups = Harness.run("/usr/bin/find", ["/sys/fs/cgroup", "-maxdepth", "4", "-name", node.cgroupName(of: id)]).stdout
        #expect(cgroups.isEmpty, "cgroup left: \(cgroups)", sourceLocation: sourceLocation)
    }
}
