// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffNetwork
import SkiffSpec
import Testing

/// A network namespace that plays the node for one test (the machine's own namespace is
/// never touched): skiff runs inside it, so the bridge, the veths and the nftables rules
/// are made there, and go with it.
final class NetworkNode: @unchecked Sendable {  // `ids` is guarded by `lock`
    let name: String
    let root: String
    let bundles: String
    private var ids: [String] = []
    private let lock = NSLock()

    init() {
        name = "skiff-node-" + UUID().uuidString.prefix(8).lowercased()
        root = Harness.temporaryDirectory("skiff-root")
        bundles = Harness.temporaryDirectory("skiff-bundles")
        let added = Harness.run("/usr/bin/ip", ["netns", "add", name])
        precondition(added.status == 0, "ip netns add: \(added.stderr)")
        Harness.run("/usr/bin/ip", ["-n", name, "link", "set", "lo", "up"])
        leaseDirectory = NetworkNode.leaseDirectory(ofNamespace: "/run/netns/" + name)
    }

    /// Where skiff keeps this node's leases: named by the namespace's cookie (SO_NETNS_COOKIE).
    let leaseDirectory: String

    static func leaseDirectory(ofNamespace path: String) -> String {
        let script = "import socket; s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), 'little'))"
        let cookie = Harness.run("/usr/bin/nsenter", ["--net=" + path, "--", "python3", "-c", script]).output
        precondition(!cookie.isEmpty, "no netns cookie for \(path)")
        return "/run/skiff-network/" + cookie
    }

    deinit {
        for id in ids { skiff(["delete", "--force", id]) }
        Harness.run("/usr/bin/ip", ["netns", "delete", name])
        // A test that failed midway may have left leases (and with them the lock file).
        try? FileManager.default.removeItem(atPath: leaseDirectory)
        try? FileManager.default.removeItem(atPath: root)
        try? FileManager.default.removeItem(atPath: policyPath)
        try? FileManager.default.removeItem(atPath: bundles)
    }

    /// A command in the node's network namespace.
    @discardableResult
    func inNode(_ command: [String]) -> Harness.Result {
        Harness.run("/usr/bin/nsenter", ["--net=/run/netns/\(name)", "--"] + command)
    }

    /// The node's operator policy (`NodeNetworkPolicy`), in a file of this node's own that
    /// skiff is pointed at; nil: none.
    var policy: String? {
        didSet {
            guard let policy else { return }
            try! Data(policy.utf8).write(to: URL(fileURLWithPath: policyPath))
        }
    }
    private var policyPath: String { root + ".network.conf" }

    @discardableResult
    func skiff(_ arguments: [String], root: String? = nil) -> Harness.Result {
        let environment = policy == nil ? [] : ["/usr/bin/env", NodeNetworkPolicy.environmentVariable + "=" + policyPath]
        return inNode(environment + [Harness.skiff, "--root", root ?? self.root] + arguments)
    }

    /// The elements of one of the bridge's sets, as `nft` lists them (one a line).
    func elements(of set: String, family: String = "inet", bridge: String = "skiff0") -> [String] {
        let kind = "set"
        let listed = inNode(["nft", "--json", "list", kind, family, "skiff_" + bridge, set]).stdout
        guard let json = try? JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [String: Any],
            let items = json["nftables"] as? [[String: Any]],
            let body = items.compactMap({ $0[kind] as? [String: Any] }).first
        else { return [] }
        return ((body["elem"] as? [Any]) ?? []).map { element in
            if let text = element as? String { return "\"\(text)\"" }
            let data = (try? JSONSerialization.data(withJSONObject: element, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// The node's whole ruleset as `nft list ruleset` prints it: an operator's first look, so
    /// nft must be able to read back every rule skiff makes (it aborts on some layouts).
    func listRuleset(sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let listed = inNode(["nft", "list", "ruleset"])
        #expect(listed.status == 0 && listed.stderr.isEmpty, "nft list ruleset: \(listed.status) \(listed.stderr)", sourceLocation: sourceLocation)
        return listed.stdout
    }

    /// The spec of a networked task running `script` (busybox sh) with these annotations.
    func spec(_ script: String, _ network: [String: String]) -> Spec {
        var spec = Spec.defaultSpec(rootfs: Harness.rootfs)
        spec.process?.args = ["sh", "-c", script]
        spec.annotations = Dictionary(uniqueKeysWithValues: network.map { (NetworkConfig.prefix + $0.key, $0.value) })
        return spec
    }

    /// Writes `spec` as the config.json of the bundle `name` under `bundles`; its path.
    @discardableResult
    func writeBundle(_ name: String, _ spec: Spec) -> String {
        let bundle = bundles + "/" + name
        try! FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: bundle + "/config.json", contents: Data(SpecLoader.encode(spec))))
        return bundle
    }

    /// The cgroup `start` gives task `id`, `<node>-<id>` under each hierarchy's root: tests
    /// run side by side, each on a node of its own, and reuse ids such as "db", whose default
    /// cgroup (`skiff-db`) they would otherwise share — a create found it made by the other.
    func cgroupName(of id: String) -> String { name + "-" + id }

    /// Writes `spec` as the bundle of `id` and runs it detached (in `cgroupName(of:)` unless
    /// the spec names a cgroup).
    /// `root`: another state root on the same node (containerd keeps one per namespace).
    @discardableResult
    func start(_ id: String, _ spec: Spec, root: String? = nil) -> Harness.Result {
        var spec = spec
        if spec.linux?.cgroupsPath == nil { spec.linux?.cgroupsPath = "/" + cgroupName(of: id) }
        let bundle = writeBundle(id, spec)
        if root == nil { lock.withLock { ids.append(id) } }
        return skiff(["run", "--detach", "--bundle", bundle, id], root: root)
    }

    /// Deletes `id` with the node, for a task started some other way than `start`.
    func track(_ id: String) { lock.withLock { ids.append(id) } }

    /// A task that serves "name" on each TCP port in `ports` until it is deleted.
    @discardableResult
    func startServer(_ id: String, ports: [Int], _ network: [String: String], root: String? = nil) -> Harness.Result {
        let servers = ports.map { "nc -ll -p \($0) -e echo \(id) & " }.joined()
        return start(id, spec(servers + "exec sleep 1000", network), root: root)
    }

    @discardableResult
    func exec(_ id: String, _ command: [String], caps: [String] = [], root: String? = nil) -> Harness.Result {
        skiff(["exec"] + caps.flatMap { ["--cap", $0] } + [id] + command, root: root)
    }

    /// What a TCP connection from task `from` to `address:port` reads ("" if none within 1 s).
    func connect(from: String, to address: String, port: Int, root: String? = nil) -> String {
        exec(from, ["nc", "-w", "1", address, String(port)], root: root).output
    }

    func ping(from: String, to address: String) -> Bool {
        exec(from, ["ping", "-c", "1", "-W", "1", address], caps: ["CAP_NET_RAW"]).status == 0
    }

    /// The address the lease store gave `id`.
    func address(of id: String) -> String? {
        leases().first { $0.id == id }?.address
    }

    /// The owners (state directories) of the leases.
    func leaseOwners() -> [String] {
        let text = (try? String(contentsOfFile: leaseDirectory + "/skiff0.leases", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count >= 4 ? String(fields[1]) : nil
        }
    }

    func leases(bridge: String = "skiff0") -> [(address: String, id: String)] {
        let text = (try? String(contentsOfFile: leaseDirectory + "/\(bridge).leases", encoding: .utf8)) ?? ""
        var leases: [(address: String, id: String)] = []
        for line in text.split(separator: "\n") {
            // address, owner (the container's state directory), groups, interface, rules
            let fields = line.split(separator: " ")
            if fields.count >= 4, !line.hasPrefix("subnet ") { leases.append((String(fields[0]), String(fields[1].split(separator: "/").last ?? ""))) }
        }
        return leases
    }

    func pid(of id: String) -> Int32 {
        let state = skiff(["state", id])
        let json = try? JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any]
        return (json?["pid"] as? Int).map(Int32.init) ?? 0
    }

    /// The task veths on the node ("skv…" names).
    func veths() -> [String] {
        inNode(["ip", "-o", "link", "show"]).stdout.split(separator: "\n").compactMap { line in
            let name = line.split(separator: ":").dropFirst().first?.trimmingCharacters(in: .whitespaces)
            return name.flatMap { $0.hasPrefix("skv") ? String($0.split(separator: "@")[0]) : nil }
        }
    }

    /// The node holds no veth, no set element, no group rule, no lease and no lease directory
    /// (the bridge and its tables' hooked chains stay, as the node's).
    func expectNothingLeft(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(veths().isEmpty, "veths are left: \(veths())", sourceLocation: sourceLocation)
        let ruleset = listRuleset(sourceLocation: sourceLocation)
        // Group rules are the only ones that look `members` up: a bridge without tasks has none.
        for left in ["elements", "@members"] {
            #expect(!ruleset.contains(left), "\(left) is left: \(ruleset)", sourceLocation: sourceLocation)
        }
        #expect(leases().isEmpty, "leases are left: \(leases())", sourceLocation: sourceLocation)
        // With its last lease, the node's lease directory goes (lock file included).
        let files = (try? FileManager.default.contentsOfDirectory(atPath: leaseDirectory)) ?? []
        #expect(!FileManager.default.fileExists(atPath: leaseDirectory), "lease files are left: \(files)", sourceLocation: sourceLocation)
    }
}
