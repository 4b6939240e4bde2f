// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

/// `linux.netDevices` (runtime-spec 1.3): interfaces of the node moved into the task, renamed,
/// addressed and up, carrying real packets; what the node relies on refused, naming it, with
/// the node unchanged. Each test's node is a network namespace of its own.
@Suite("linux.netDevices", .serialized)
struct NetDevicesTests {
    /// A spec that moves `devices` in and runs `script`.
    static func spec(_ devices: [String: Spec.NetDevice], _ script: String = "exec sleep 1000") -> Spec {
        var spec = Spec.defaultSpec(rootfs: Harness.rootfs)
        spec.process?.args = ["sh", "-c", script]
        spec.linux?.netDevices = devices
        return spec
    }

    static func run(_ node: NetworkNode, _ commands: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        for command in commands {
            let result = node.inNode(command.split(separator: " ").map(String.init))
            #expect(result.status == 0, "\(command): \(result.stderr)", sourceLocation: sourceLocation)
        }
    }

    /// The namespaces of `spec`, its network namespace the one at `path`.
    static func namespaces(_ spec: Spec, network path: String) -> [Spec.Namespace] {
        (spec.linux?.namespaces ?? []).map { $0.kind == .network ? .init(.network, path: path) : $0 }
    }

    /// A network namespace beside the node (a peer on the other end of a wire); removed by the caller.
    static func peerNamespace() -> String {
        let name = "skiff-peer-" + UUID().uuidString.prefix(8).lowercased()
        Harness.run("/usr/bin/ip", ["netns", "add", name])
        Harness.run("/usr/bin/ip", ["-n", name, "link", "set", "lo", "up"])
        return name
    }

    /// Waits up to two seconds for `condition` (a namespace's devices go with it a moment later).
    static func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<40 {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    /// A veth end with two permanent global addresses (IPv4, IPv6) and one with a lifetime:
    /// inside the task under a template name, with the permanent ones only, up; the node
    /// reaches it through the other end; gone with the task (a virtual device is destroyed
    /// with its namespace, never moved back).
    @Test func aVethMovedInKeepsItsAddressesAndCarriesPackets() throws {
        let node = NetworkNode()
        Self.run(
            node,
            [
                "ip link add nd0 type veth peer name nd0p", "ip addr add 10.200.0.2/24 dev nd0",
                "ip addr add 2001:db8:200::2/64 dev nd0 nodad", "ip addr add 10.200.1.2/24 dev nd0 valid_lft 300 preferred_lft 300",
                "ip addr add 10.200.0.1/24 dev nd0p", "ip link set nd0p up",
            ])
        let started = node.start("mover", Self.spec(["nd0": .init(name: "net%d")]))
        try #require(started.status == 0, "\(started.stderr)")
        let addresses = node.exec("mover", ["ip", "-o", "addr", "show", "dev", "net0"]).stdout
        #expect(addresses.contains("inet 10.200.0.2/24"), "\(addresses)")
        #expect(addresses.contains("inet6 2001:db8:200::2/64"), "\(addresses)")
        #expect(!addresses.contains("10.200.1.2"), "an address with a lifetime is the old namespace's: \(addresses)")
        let link = node.exec("mover", ["ip", "-o", "link", "show", "net0"]).stdout
        #expect(link.contains("UP"), "\(link)")
        #expect(node.inNode(["ip", "link", "show", "nd0"]).status != 0, "nd0 is still on the node")
        #expect(node.inNode(["/bin/busybox", "ping", "-c", "1", "-W", "2", "10.200.0.2"]).status == 0, "the node cannot reach the task through nd0p")
        #expect(node.skiff(["delete", "--force", "mover"]).status == 0)
        #expect(Self.eventually { node.inNode(["ip", "link", "show", "nd0p"]).status != 0 }, "the veth outlived the task's namespace")
    }

    /// With a user namespace of the task's own (root mapped to 100000): its network namespace
    /// belongs to that user namespace, and the device is moved in all the same.
    @Test func aDeviceMovesIntoATaskWithItsOwnUserNamespace() throws {
        let node = NetworkNode()
        Self.run(node, ["ip link add ndu0 type veth peer name ndu0p", "ip addr add 10.207.0.2/24 dev ndu0"])
        var spec = Self.spec(["ndu0": .init(name: "net0")], "ip -o addr show dev net0; cat /proc/self/uid_map")
        spec.linux?.namespaces?.append(.init(.user))
        spec.linux?.uidMappings = [.init(containerID: 0, hostID: 100_000, size: 65536)]
        spec.linux?.gidMappings = [.init(containerID: 0, hostID: 100_000, size: 65536)]
        spec.linux?.cgroupsPath = "/" + node.cgroupName(of: "userns")
        let result = node.skiff(["run", "--bundle", node.writeBundle("userns", spec), "userns"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("net0    inet 10.207.0.2/24"), "\(result.stdout)")
        #expect(result.stdout.contains("100000"), "not in its own user namespace: \(result.stdout)")
    }

    /// Fargate's one interface a task: a macvlan of the node's uplink, named eth1 in the task,
    /// where a peer on the uplink's wire reaches it. The uplink itself (carrying the macvlan
    /// and the node's default route) stays.
    @Test func aMacvlanOfTheUplinkIsTheTasksOwnInterface() throws {
        let node = NetworkNode()
        let peer = Self.peerNamespace()
        defer { Harness.run("/usr/bin/ip", ["netns", "delete", peer]) }
        Self.run(
            node,
            [
                "ip link add up0 type veth peer name up0p", "ip link set up0p netns \(peer)", "ip addr add 10.201.0.1/24 dev up0",
                "ip link set up0 up", "ip route add default via 10.201.0.254 dev up0",
                "ip link add mv0 link up0 type macvlan mode bridge", "ip addr add 10.201.0.50/24 dev mv0",
            ])
        Harness.run("/usr/bin/ip", ["-n", peer, "addr", "add", "10.201.0.9/24", "dev", "up0p"])
        Harness.run("/usr/bin/ip", ["-n", peer, "link", "set", "up0p", "up"])
        let started = node.start("fargate", Self.spec(["mv0": .init(name: "eth1")]))
        try #require(started.status == 0, "\(started.stderr)")
        #expect(node.exec("fargate", ["ip", "-o", "addr", "show", "dev", "eth1"]).stdout.contains("inet 10.201.0.50/24"))
        let reached = Harness.run("/usr/bin/ip", ["netns", "exec", peer, "/bin/busybox", "ping", "-c", "1", "-W", "2", "10.201.0.50"])
        #expect(reached.status == 0, "the peer cannot reach the task's macvlan: \(reached.stdout)")
        #expect(node.inNode(["ip", "route", "show", "default"]).stdout.contains("via 10.201.0.254 dev up0"))
        #expect(node.skiff(["delete", "--force", "fargate"]).status == 0)
    }

    /// Everything the node relies on, asked for by a config: refused in one line naming the
    /// device and why, no container left, and the device still on the node with its address.
    @Test func whatTheNodeReliesOnIsRefused() throws {
        let node = NetworkNode()
        let joined = Self.peerNamespace()
        defer { Harness.run("/usr/bin/ip", ["netns", "delete", joined]) }
        Self.run(
            node,
            [
                // A bridge with a port; an uplink carrying a macvlan and the default route.
                "ip link add br9 type bridge", "ip link add bp0 type veth peer name bp0p", "ip link set bp0 master br9",
                "ip link add up0 type veth peer name up0p", "ip addr add 10.201.0.1/24 dev up0", "ip link set up0 up",
                "ip link set up0p up", "ip route add default via 10.201.0.254 dev up0", "ip link add mv0 link up0 type macvlan mode bridge",
                // A route via a gateway on gw0; an address of src0 that a route of the node leaves from.
                "ip link add gw0 type veth peer name gw0p", "ip addr add 10.203.0.1/24 dev gw0", "ip link set gw0 up",
                "ip route add 10.9.0.0/16 via 10.203.0.254", "ip link add src0 type veth peer name src0p",
                "ip addr add 10.204.0.1/24 dev src0", "ip link set src0 up", "ip route add 10.205.0.0/24 dev up0 src 10.204.0.1",
                // The node's IPv6 default route on v6gw0.
                "ip link add v6gw0 type veth peer name v6gw0p", "ip addr add 2001:db8:6::2/64 dev v6gw0 nodad", "ip link set v6gw0 up",
                "ip link set v6gw0p up", "ip -6 route add default via 2001:db8:6::1 dev v6gw0",
                // A free device, for the names the task's namespace has already.
                "ip link add free0 type veth peer name free0p", "ip addr add 10.206.0.1/24 dev free0",
            ])
        Harness.run("/usr/bin/ip", ["-n", joined, "link", "add", "eth7", "type", "veth", "peer", "name", "eth8"])
        let cases: [(device: String, name: String?, joins: Bool, message: String)] = [
            ("lo", nil, false, #"linux.netDevices["lo"]: "lo" is the node's loopback interface"#),
            ("br9", "eth1", false, #"linux.netDevices["br9"]: "br9" is a bridge: its ports' traffic would go with it"#),
            ("bp0", nil, false, #"linux.netDevices["bp0"]: "bp0" is a port of br9: the node's traffic on it would go with it"#),
            ("up0", nil, false, #"linux.netDevices["up0"]: "up0" carries mv0: they would be cut off"#),
            ("gw0", nil, false, #"linux.netDevices["gw0"]: "gw0" carries the node's route 10.9.0.0/16 via 10.203.0.254 dev gw0: the node would lose it"#),
            ("src0", nil, false, #"linux.netDevices["src0"]: "src0" holds 10.204.0.1, the source address of the node's route 10.205.0.0/24 dev up0"#),
            ("v6gw0", nil, false, #"linux.netDevices["v6gw0"]: "v6gw0" carries the node's IPv6 default route: the node would lose it"#),
            ("nosuch0", nil, false, #"linux.netDevices["nosuch0"]: there is no interface "nosuch0" in the runtime's network namespace"#),
            ("free0", "eth7", true, #"linux.netDevices["free0"]: the container's network namespace has an interface "eth7" already"#),
        ]
        let before = node.inNode(["ip", "-o", "addr"]).stdout
        for (i, refused) in cases.enumerated() {
            var spec = Self.spec([refused.device: .init(name: refused.name)], "true")
            if refused.joins {
                let namespaces = Self.namespaces(spec, network: "/run/netns/" + joined)
                spec.linux?.namespaces = namespaces
            }
            spec.linux?.cgroupsPath = "/" + node.cgroupName(of: "refused\(i)")
            let bundle = node.writeBundle("refused\(i)", spec)
            let result = node.skiff(["run", "--bundle", bundle, "refused\(i)"])
            #expect(result.status != 0)
            #expect(result.stderr == "skiff: " + refused.message + "\n", "\(refused.device)")
            #expect(!FileManager.default.fileExists(atPath: node.root + "/refused\(i)"), "state of refused\(i) left")
        }
        #expect(node.inNode(["ip", "-o", "addr"]).stdout == before, "the node's addresses changed")
        #expect(Harness.run("/usr/bin/ip", ["-n", joined, "link", "show", "free0"]).status != 0, "free0 was moved")
    }

    /// Names no kernel takes, two devices under one name, no network namespace, or the
    /// runtime's own: refused before anything is made.
    @Test func badConfigsAreRefusedBeforeAnythingIsMade() {
        let cases: [(message: String, change: (Sandbox) -> Void)] = [
            (
                #"linux.netDevices["a/b"]: "a/b" is not an interface name (no '/', ':', white space or control characters; not "." or "..")"#,
                { $0.spec.linux?.netDevices = ["a/b": .init()] }
            ),
            (
                #"linux.netDevices[".."]: ".." is not an interface name (no '/', ':', white space or control characters; not "." or "..")"#,
                { $0.spec.linux?.netDevices = ["..": .init()] }
            ),
            (
                #"linux.netDevices["eth0"].name: "a b" is not an interface name (no '/', ':', white space or control characters; not "." or "..")"#,
                { $0.spec.linux?.netDevices = ["eth0": .init(name: "a b")] }
            ),
            (
                #"linux.netDevices.eth0.name: contains a NUL character (\u0000), which the kernel would read as the end of the string"#,
                { $0.spec.linux?.netDevices = ["eth0": .init(name: "x\u{0}y")] }
            ),
            (#"linux.netDevices[""]: "": an interface name has 1 to 15 characters"#, { $0.spec.linux?.netDevices = ["": .init()] }),
            (
                #"linux.netDevices["eth0"].name: "sixteen-chars-xx": an interface name has 1 to 15 characters"#,
                { $0.spec.linux?.netDevices = ["eth0": .init(name: "sixteen-chars-xx")] }
            ),
            (
                #"linux.netDevices["eth0"].name: "net%s": '%' is only allowed as one "%d" in a new name (a template the kernel numbers)"#,
                { $0.spec.linux?.netDevices = ["eth0": .init(name: "net%s")] }
            ),
            (
                #"linux.netDevices["eth0"].name: "n%d%d": '%' is only allowed as one "%d" in a new name (a template the kernel numbers)"#,
                { $0.spec.linux?.netDevices = ["eth0": .init(name: "n%d%d")] }
            ),
            (
                #"linux.netDevices["eth%d"]: "eth%d": '%' is only allowed as one "%d" in a new name (a template the kernel numbers)"#,
                { $0.spec.linux?.netDevices = ["eth%d": .init()] }
            ),
            (#"linux.netDevices["eth0"].name: "lo" is the container's loopback interface"#, { $0.spec.linux?.netDevices = ["eth0": .init(name: "lo")] }),
            (
                #"linux.netDevices["eth1"]: "eth0" is moved in as "net0" too: two devices cannot have one name"#,
                { $0.spec.linux?.netDevices = ["eth0": .init(name: "net0"), "eth1": .init(name: "net0")] }
            ),
            (
                "linux.netDevices: needs a network namespace (linux.namespaces) to move the devices into",
                {
                    $0.spec.linux?.netDevices = ["eth0": .init()]
                    $0.spec.linux?.namespaces?.removeAll { $0.kind == .network }
                }
            ),
            (
                "linux.netDevices: needs a network namespace of the container's own (this one is the runtime's)",
                {
                    $0.spec.linux?.netDevices = ["eth0": .init()]
                    let namespaces = Self.namespaces($0.spec, network: "/proc/self/ns/net")
                    $0.spec.linux?.namespaces = namespaces
                }
            ),
        ]
        for (message, change) in cases { Sandbox.expectCreateFails(configuring: change, message, oneLine: true) }
    }
}
