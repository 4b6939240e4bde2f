// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// skiff's task network as a CNI plugin, called as a CNI runtime calls it: the `skiff` binary
/// with CNI_* in its environment and the network configuration on stdin, in a network
/// namespace that plays the node, for pods whose namespaces the test makes.
@Suite("the CNI plugin", .serialized)
struct CNIPluginTests {
    /// A pod's sandbox: a network namespace of its own, as a CRI runtime makes one.
    final class Pod {
        let name: String
        let id: String
        var path: String { "/run/netns/" + name }

        init(_ id: String) {
            self.id = id
            name = "skiff-pod-" + UUID().uuidString.prefix(8).lowercased()
            Harness.run("/usr/bin/ip", ["netns", "add", name])
            Harness.run("/usr/bin/ip", ["-n", name, "link", "set", "lo", "up"])
        }

        private var servers: [Harness.Running] = []

        /// The pod's servers end (they were started here), then its namespace goes.
        func remove() {
            for server in servers {
                kill(server.pid, SIGKILL)
                _ = server.finish()
            }
            servers = []
            Harness.run("/usr/bin/ip", ["netns", "delete", name])
        }

        deinit { remove() }

        /// A command in the pod's network namespace (busybox's applets from the rootfs).
        @discardableResult
        func run(_ command: [String]) -> Harness.Result {
            Harness.run("/usr/bin/nsenter", ["--net=" + path, "--", Harness.rootfs + "/bin/busybox"] + command)
        }

        /// TCP servers on `ports` answering `id`, until the namespace goes.
        func serve(_ ports: [Int]) {
            for port in ports {
                servers.append(
                    Harness.start(
                        ["--net=" + path, "--", Harness.rootfs + "/bin/busybox", "nc", "-ll", "-p", String(port), "-e", "echo", id], executable: "/usr/bin/nsenter"))
            }
            usleep(200_000)
        }

        /// What a TCP connection to `address:port` reads ("" if none within 2 s). busybox's
        /// `nc -w` times a connect out with SIGALRM, which the test runner's children may have
        /// blocked: a refused SYN would then wait out TCP's retries (over two minutes).
        func connect(to address: String, port: Int) -> String {
            Harness.run(
                "/usr/bin/nsenter",
                ["--net=" + path, "--", "/usr/bin/timeout", "-s", "KILL", "2", Harness.rootfs + "/bin/busybox", "nc", "-w", "1", address, String(port)]
            ).output
        }
    }

    static func configuration(version: String = "1.0.0", extra: String = "", annotations: [String: String] = [:]) -> String {
        let pairs = annotations.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        return """
            {"cniVersion": "\(version)", "name": "skiff-pods", "type": "skiff", "bridge": "skiff0", "subnet": "10.77.0.0/16",
             "dns": {"nameservers": ["10.77.0.1"]}\(extra),
             "runtimeConfig": {"io.kubernetes.cri.pod-annotations": {\(pairs)}}}
            """
    }

    /// The plugin called in `node` for `pod` (nil namespace: as a DEL after the pod's is gone).
    @discardableResult
    static func plugin(
        _ command: String, _ node: NetworkNode, id: String, netns: String?, ifname: String = "eth0", config: String
    ) -> (status: Int32, json: [String: Any], text: String) {
        var environment = ["CNI_COMMAND": command, "CNI_CONTAINERID": id, "CNI_IFNAME": ifname, "CNI_PATH": "/opt/cni/bin"]
        if let netns { environment["CNI_NETNS"] = netns }
        let running = Harness.start(
            ["--net=/run/netns/\(node.name)", "--", "/usr/bin/env"] + environment.map { "\($0.key)=\($0.value)" } + [Harness.skiff],
            executable: "/usr/bin/nsenter", stdin: config)
        let result = running.finish()
        let json = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
        return (result.status, json, result.stdout + result.stderr)
    }

    static func address(_ json: [String: Any]) -> String? {
        ((json["ips"] as? [[String: Any]])?.first?["address"] as? String)?.split(separator: "/").first.map(String.init)
    }

    @Test func versionSaysWhatItSpeaks() throws {
        let node = NetworkNode()
        let result = Self.plugin("VERSION", node, id: "", netns: nil, config: "{\"cniVersion\": \"1.0.0\"}")
        #expect(result.status == 0, "\(result.text)")
        #expect(result.json["supportedVersions"] as? [String] == ["0.3.0", "0.3.1", "0.4.0", "1.0.0"])
    }

    /// db (group db, ingress tcp 5432 from web), web (group web) and other: web reaches
    /// db:5432, other does not, web does not reach db:5433; a new web reaches db again after
    /// the old one is gone; DEL takes everything, however often it is called.
    @Test func podsGetSecurityGroups() throws {
        let node = NetworkNode()
        let db = Pod("db"), web = Pod("web"), other = Pod("other")
        let added = Self.plugin(
            "ADD", node, id: "db", netns: db.path,
            config: Self.configuration(annotations: ["io.skiff.network.groups": "db", "io.skiff.network.ingress": "tcp 5432 web"]))
        #expect(added.status == 0, "\(added.text)")
        let dbAddress = try #require(Self.address(added.json), "\(added.text)")
        let interfaces = added.json["interfaces"] as? [[String: Any]] ?? []
        #expect(interfaces.count == 3 && interfaces[2]["sandbox"] as? String == db.path && interfaces[2]["name"] as? String == "eth0")
        #expect((added.json["routes"] as? [[String: Any]])?.first?["gw"] as? String == "10.77.0.1")
        #expect((added.json["dns"] as? [String: Any])?["nameservers"] as? [String] == ["10.77.0.1"])
        #expect(Self.plugin("ADD", node, id: "web", netns: web.path, config: Self.configuration(annotations: ["io.skiff.network.groups": "web"])).status == 0)
        #expect(Self.plugin("ADD", node, id: "other", netns: other.path, config: Self.configuration()).status == 0)
        db.serve([5432, 5433])
        #expect(web.connect(to: dbAddress, port: 5432) == "db")
        #expect(other.connect(to: dbAddress, port: 5432) == "")
        #expect(web.connect(to: dbAddress, port: 5433) == "")
        #expect(
            Self.plugin(
                "CHECK", node, id: "db", netns: db.path,
                config: Self.configuration(annotations: ["io.skiff.network.groups": "db", "io.skiff.network.ingress": "tcp 5432 web"])
            ).status == 0)

        // web goes (twice), and a new web pod reaches db again.
        #expect(Self.plugin("DEL", node, id: "web", netns: web.path, config: Self.configuration()).status == 0)
        #expect(Self.plugin("DEL", node, id: "web", netns: web.path, config: Self.configuration()).status == 0)
        web.remove()
        let web2 = Pod("web2")
        #expect(Self.plugin("ADD", node, id: "web2", netns: web2.path, config: Self.configuration(annotations: ["io.skiff.network.groups": "web"])).status == 0)
        #expect(web2.connect(to: dbAddress, port: 5432) == "db")

        // DEL of an attachment that never was, and after the pod's namespace is gone.
        #expect(Self.plugin("DEL", node, id: "never-added", netns: nil, config: Self.configuration()).status == 0)
        other.remove()
        #expect(Self.plugin("DEL", node, id: "other", netns: nil, config: Self.configuration()).status == 0)
        for (pod, id) in [(db, "db"), (web2, "web2")] {
            #expect(Self.plugin("DEL", node, id: id, netns: pod.path, config: Self.configuration()).status == 0)
        }
        node.expectNothingLeft()
    }

    /// CHECK says when what ADD made is no longer there: the pod's rules flushed, its address
    /// taken away.
    @Test func checkFindsWhatWasTakenAway() throws {
        let node = NetworkNode()
        let pod = Pod("checked")
        let config = Self.configuration(annotations: ["io.skiff.network.ingress": "tcp 80 10.0.0.0/8"])
        #expect(Self.plugin("ADD", node, id: "checked", netns: pod.path, config: config).status == 0)
        #expect(Self.plugin("CHECK", node, id: "checked", netns: pod.path, config: config).status == 0)
        #expect(node.inNode(["nft", "flush", "set", "inet", "skiff_skiff0", "ingress_ports"]).status == 0)
        let flushed = Self.plugin("CHECK", node, id: "checked", netns: pod.path, config: config)
        #expect(flushed.status != 0 && (flushed.json["msg"] as? String ?? "").contains("rules"), "\(flushed.text)")
        #expect(flushed.json["code"] as? Int == 100)
        #expect(Self.plugin("CHECK", node, id: "not-there", netns: pod.path, config: config).json["code"] as? Int == 3)
        #expect(Self.plugin("DEL", node, id: "checked", netns: pod.path, config: config).status == 0)
        node.expectNothingLeft()
    }

    /// Bad input is a CNI error (the spec's JSON, a well-known code), a non-zero exit, and
    /// nothing left: a malformed annotation names the annotation and its value.
    @Test func badInputIsACNIErrorAndLeavesNothing() throws {
        let node = NetworkNode()
        let pod = Pod("bad")
        let malformed = Self.plugin("ADD", node, id: "bad", netns: pod.path, config: Self.configuration(annotations: ["io.skiff.network.ingress": "tcp 99999 web"]))
        #expect(malformed.status != 0)
        #expect(malformed.json["code"] as? Int == 7)
        let message = malformed.json["msg"] as? String ?? ""
        #expect(message.contains("io.skiff.network.ingress") && message.contains("tcp 99999 web"), "\(message)")
        let bridge = Self.plugin("ADD", node, id: "bad", netns: pod.path, config: Self.configuration(annotations: ["io.skiff.network.bridge": "eth0"]))
        #expect(bridge.json["code"] as? Int == 7 && (bridge.json["msg"] as? String ?? "").contains("not by a pod"))
        #expect(Self.plugin("ADD", node, id: "bad", netns: pod.path, config: Self.configuration(version: "9.9.9")).json["code"] as? Int == 1)
        #expect(Self.plugin("ADD", node, id: "bad/../x", netns: pod.path, config: Self.configuration()).json["code"] as? Int == 4)
        #expect(Self.plugin("ADD", node, id: "bad", netns: pod.path, config: "{not json").json["code"] as? Int == 6)
        #expect(Self.plugin("ADD", node, id: "bad", netns: "/run/netns/none", config: Self.configuration()).status != 0)
        #expect(node.leases().isEmpty && node.veths().isEmpty)
        node.expectNothingLeft()
    }

    /// The plugin killed at instants spread over its ADD, then DEL: nothing left.
    @Test func killedAddThenDelLeavesNothing() throws {
        let node = NetworkNode()
        let config = Self.configuration(annotations: ["io.skiff.network.groups": "web", "io.skiff.network.ingress": "tcp 80 web"])
        var killedMidway = 0
        for round in 0..<12 {
            let pod = Pod("k\(round)")
            let id = "k\(round)"
            let environment = ["CNI_COMMAND=ADD", "CNI_CONTAINERID=\(id)", "CNI_IFNAME=eth0", "CNI_NETNS=\(pod.path)"]
            let running = Harness.start(
                ["--net=/run/netns/\(node.name)", "--", "/usr/bin/env"] + environment + [Harness.skiff], executable: "/usr/bin/nsenter", stdin: config)
            usleep(UInt32(1000 + round * 4000))  // 1 to 45 ms
            kill(running.pid, SIGKILL)
            _ = running.finish()
            if node.leases().contains(where: { $0.id.hasPrefix("cni:\(id):") || $0.id == id }) || !node.veths().isEmpty { killedMidway += 1 }
            let deleted = Self.plugin("DEL", node, id: id, netns: pod.path, config: config)
            #expect(deleted.status == 0, "round \(round): \(deleted.text)")
            #expect(node.leases().isEmpty, "round \(round) left a lease")
        }
        #expect(killedMidway > 0, "no kill landed after the lease was made")
        node.expectNothingLeft()
    }
}
