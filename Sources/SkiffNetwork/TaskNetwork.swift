// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// A task's own interface, address and rules, made on the node (the network namespace
/// skiff runs in) and removed again. Everything for one bridge happens under its lease
/// lock; see `TaskFirewall` for the rules.
public enum TaskNetwork {
    /// The node-side work of a task whose new network namespace is `namespacePath`, all of
    /// it by this process: `stage`, its rules committed, then `connect`. Returns the task's
    /// address. (skiff's own create has the rules committed by the task's first process
    /// instead: see `TaskRulesChannel`.)
    /// `interface`: the task end's name in its namespace (a CNI runtime's `CNI_IFNAME`).
    @discardableResult
    public static func setUp(
        _ config: NetworkConfig, owner: String, namespacePath: String, leases: String, interface: String = "eth0"
    ) throws(NetworkError) -> TaskEndpoint {
        let task: TaskEndpoint
        do {
            let staged = try stage(config, owner: owner, leases: leases)
            try staged.batch.commit(step: staged.step)
            task = staged.task
        }
        try connect(config, task: task, namespacePath: namespacePath, interface: interface)
        return task
    }

    /// A task's lease and the transaction that lets its traffic through, under its bridge's
    /// lock until the transaction is committed.
    struct StagedRules: ~Copyable {
        var store: LeaseStore
        let batch: NFTablesBatch
        let owner: String
        /// The task's address and the name its veth is to have (in its lease).
        let task: TaskEndpoint
        var step: String
        /// The bridge's group numbers before this task numbered its new ones.
        let groupNumbersBefore: [String: UInt32]

        /// A transaction that was refused: the lease goes too, and the numbers of groups whose
        /// rules it would have made, so nothing is left of it.
        mutating func withdraw() throws(NetworkError) {
            store.removeLeases(heldBy: owner)
            store.groupNumbers = groupNumbersBefore
            try store.save()
        }
    }

    /// Leases an address (never one of the node's own), makes the bridge on first use and
    /// its tables on first use or after a reload took them, and returns the task's
    /// transaction uncommitted: its port, MAC and address, its allowed flows and its groups
    /// (numbered on first use; a new one's rules are in the transaction). The lease is written first,
    /// so `tearDown` can undo a setup that stopped at any point.
    static func stage(_ config: NetworkConfig, owner: String, leases: String) throws(NetworkError) -> StagedRules {
        var store = try LeaseStore(directory: leases, bridge: config.bridge)
        let previousSubnet = store.subnet
        let firstOnBridge = store.leases.isEmpty
        if let previousSubnet, previousSubnet != config.subnet, !store.leases.isEmpty {
            throw .badInput(
                SpecError(
                    "annotations[\"\(NetworkConfig.prefix)subnet\"]",
                    "bridge \(config.bridge) is on \(previousSubnet), not \(config.subnet) (\(store.leases.count) tasks use it)"))
        }
        var node = try RouteNetlink()
        // An address of the node (on any link: a bridge someone else made holds its own) is
        // never a task's: the node's traffic to it would stay on the node.
        let nodeAddresses = Set(try node.routes().filter { Int($0.type) == RTN_LOCAL }.map(\.destination.network))
        let address: IPv4Address
        if let wanted = config.address {
            if let holder = store.leases.first(where: { $0.address == wanted }) {
                throw .badInput(
                    SpecError(
                        "annotations[\"\(NetworkConfig.prefix)address\"]",
                        "\(wanted) is leased to container \"\(holder.owner.split(separator: "/").last ?? "")\" on this node"))
            }
            if nodeAddresses.contains(wanted) {
                throw .badInput(SpecError("annotations[\"\(NetworkConfig.prefix)address\"]", "\(wanted) is an address of the node"))
            }
            address = wanted
        } else {
            guard let free = store.firstFree(in: config.subnet, except: nodeAddresses) else {
                throw .badInput(SpecError("annotations[\"\(NetworkConfig.prefix)subnet\"]", "no free address left in \(config.subnet)"))
            }
            address = free
        }
        let task = TaskEndpoint(newFor: address)
        let lease = LeaseStore.Lease(config, address: address, owner: owner, interface: task.hostInterface)
        let others = store.leases
        let groupNumbersBefore = store.groupNumbers
        let newGroups = Set(config.groups).union(config.referencedGroups).subtracting(groupNumbersBefore.keys)
        if groupNumbersBefore.count + newGroups.count > NetworkConfig.maximumGroupsPerBridge {
            let namedByIngress = config.ingress.contains { $0.peer.groupName.map(newGroups.contains) == true }
            let field = !newGroups.isDisjoint(with: config.groups) ? "groups" : namedByIngress ? "ingress" : "egress"
            throw .badInput(
                SpecError(
                    "annotations[\"\(NetworkConfig.prefix)\(field)\"]",
                    "\(newGroups.count) new groups on bridge \(config.bridge), which has \(groupNumbersBefore.count) of at most \(NetworkConfig.maximumGroupsPerBridge)"))
        }
        let groupsAdded = store.number(newGroups)
        // Bad input is refused before anything is written.
        let joining: FirewallChanges
        do { joining = try FirewallChanges.joining(lease, groupNumbers: store.groupNumbers) } catch {
            let field = "annotations[\"\(NetworkConfig.prefix)\(error.isIngress ? "ingress" : "egress")\"]"
            throw .badInput(
                SpecError(field, "the rules overlap into \(error.elements) disjoint flows; at most \(FirewallChanges.maximumFlows) per direction"))
        }
        store.subnet = config.subnet
        store.leases.append(lease)
        try store.save()

        try ensureBridge(config, replacing: previousSubnet, firstOnBridge: firstOnBridge, leases: leases, node: &node)
        let firewall = TaskFirewall(bridge: config.bridge)
        try restoreIfGone(firewall, leases: others, groupNumbers: store.groupNumbers)
        restoreOtherBridges(in: leases, except: config.bridge)
        var batch = NFTablesBatch()
        // A bridge without tasks has no group rules (its last task's teardown flushed them):
        // its first task adds its groups' rules to empty chains. Flushing a chain deletes
        // rules, and deleted rules make the kernel's next closes of nf_tables sockets wait
        // for their destruction (an RCU grace period), this create's own among them.
        if groupsAdded { firewall.replaceGroupRules(count: store.groupNumbers.count, in: &batch, flushing: !firstOnBridge) }
        joining.apply(firewall, to: &batch)
        return StagedRules(
            store: store, batch: batch, owner: owner, task: task, step: "installing the rules of \(address) on \(config.bridge)",
            groupNumbersBefore: groupNumbersBefore)
    }

    /// Gives the task (its lease staged) its interface: a veth pair on the bridge with the
    /// task end as `interface` in `namespacePath`, its address, loopback and default route inside.
    static func connect(_ config: NetworkConfig, task: TaskEndpoint, namespacePath: String, interface: String = "eth0") throws(NetworkError) {
        var node = try RouteNetlink()
        guard let bridge = try node.index(of: config.bridge) else { throw .system(step: "finding bridge \(config.bridge)", errno: ENODEV) }
        let namespace: FileDescriptor
        do throws(SystemError) { namespace = try FileDescriptor(opening: namespacePath, O_RDONLY, step: "opening \(namespacePath)") } catch { throw .system(error) }
        try node.createVeth(
            host: task.hostInterface, master: bridge, group: TaskFirewall.portGroup(of: config.bridge), peer: interface, peerMAC: task.mac,
            peerNamespace: namespace.rawValue)
        var inside = try RouteNetlink(namespace: namespace.rawValue)
        try inside.configureTask(interface: interface, address: task.address, prefixLength: config.subnet.prefixLength, gateway: config.subnet.gateway)
    }

    /// Puts a bridge's tables back from its leases if they are gone or not whole (`nft flush
    /// ruleset`, a firewall reload, one table deleted): the skeleton and every leased
    /// task's elements, in one transaction. Returns whether it did.
    @discardableResult
    static func restoreIfGone(
        _ firewall: TaskFirewall, leases: [LeaseStore.Lease], groupNumbers: [String: UInt32], namespace: Int32? = nil, force: Bool = false,
        creating: Bool = true
    ) throws(NetworkError) -> Bool {
        if !force, try firewall.isWhole(namespace: namespace) { return false }
        var batch = NFTablesBatch()
        for family in [NFTablesBatch.Family.bridge, .inet] where try NFTablesBatch.tableExists(family, firewall.table, namespace: namespace) {
            batch.deleteTable(family, firewall.table)
        }
        // A teardown that finds no tables and leaves no tasks has nothing to restore (a first
        // task refused before its rules): it makes no tables.
        if !creating, batch.isEmpty, leases.isEmpty { return true }
        firewall.addSkeleton(to: &batch)
        firewall.replaceGroupRules(count: groupNumbers.count, in: &batch, flushing: false)
        FirewallChanges.everything(of: leases, groupNumbers: groupNumbers).apply(firewall, to: &batch)
        try batch.commit(step: "restoring the rules of \(leases.count) tasks on \(firewall.bridge)", namespace: namespace)
        return true
    }

    /// The other bridges of this node whose lock is free get their tables back if a reload
    /// took them (a bridge whose lock is held is being changed, and its own operation
    /// restores it). Best effort: a failure here is that bridge's, found by its next operation.
    static func restoreOtherBridges(in directory: String, except bridge: String, namespace: Int32? = nil) {
        for file in listDirectory(directory) where file.hasSuffix(".leases") {
            let other = String(file.dropLast(".leases".count))
            guard other != bridge, let store = try? LeaseStore(directory: directory, bridge: other, waiting: false) else { continue }
            if store.leases.isEmpty {
                try? store.save()  // a lock file made just now, for no leases: removed again
                continue
            }
            _ = try? restoreIfGone(TaskFirewall(bridge: other), leases: store.leases, groupNumbers: store.groupNumbers, namespace: namespace)
        }
    }

    /// Removes what `setUp` made for `containerID` on `bridge`, whatever of it exists: its
    /// elements and its lease. The
    /// bridge and its tables stay, like docker0: they are the node's, and their rules see
    /// only this bridge's frames and its tasks' addresses.
    ///
    /// The veth is fenced first (its bridge port disabled; the rules drop frames of a task
    /// port that is not in the sets), then its rules go, then the veth itself, whether the
    /// task still runs or not: an exited task's namespace would take it along, but only
    /// after an RCU grace period in the kernel's cleanup worker, and not at all while a
    /// container that joined the namespace lives on. Veth names are never reused, so a new
    /// task never waits for an old veth.
    ///
    /// `node`: the node's network namespace when it is not this thread's (see `findNode`);
    /// `.gone` when it exists no more, so only the lease is left to release.
    ///
    /// Returns what is still under way: `finish()` it after any other teardown work; it
    /// returns once the veths are gone from the node (see LinkRemoval).
    public static func tearDown(bridge: String, owner: String, leases: String, node: Node = .current) throws(NetworkError) -> Release {
        var store = try LeaseStore(directory: leases, bridge: bridge)
        let (mine, remaining) = store.leases(partitionedBy: owner)
        guard !mine.isEmpty else {
            // A setup killed before its lease was written leaves the bridge's files holding
            // no lease: they go, as they would with the last lease.
            if store.leases.isEmpty { try store.save() }
            return Release(removal: nil)
        }
        var removal: LinkRemoval? = nil
        if node != .gone {
            let namespace: Int32? = if case .namespace(let fd) = node { fd } else { nil }
            var links = try RouteNetlink(namespace: namespace)
            for lease in mine { try links.disableBridgePort(lease.interface) }
            // Before this teardown deletes rules: the last close of an nf_tables socket waits
            // for the kernel's pending rule destruction, which the deletion below starts.
            restoreOtherBridges(in: leases, except: bridge, namespace: namespace)
            var rules: NetlinkSocket? = nil
            let firewall = TaskFirewall(bridge: bridge)
            // The last task's groups go with it: a bridge without tasks has no group rules.
            let groupsLeft = remaining.isEmpty ? [:] : store.groupNumbers
            if try !restoreIfGone(firewall, leases: remaining, groupNumbers: groupsLeft, namespace: namespace, creating: false) {
                var batch = NFTablesBatch()
                FirewallChanges.leaving(mine, groupNumbers: store.groupNumbers).apply(firewall, to: &batch)
                if remaining.isEmpty { firewall.replaceGroupRules(count: 0, in: &batch) }
                let step = "removing the rules of \(mine.map(\.address.description).joined(separator: ", ")) on \(bridge)"
                do throws(NetworkError) { rules = try batch.commit(step: step, namespace: namespace) } catch {
                    // Elements that were never added (a create killed before its commit), or
                    // changed by hand: the bridge's rules are made again from the leases.
                    guard error.errno == ENOENT else { throw error }
                    try restoreIfGone(firewall, leases: remaining, groupNumbers: groupsLeft, namespace: namespace, force: true, creating: false)
                }
            }
            // Fenced and unruled: the veths go (see LinkRemoval), their helper holding the
            // rules' socket, whose close waits for the kernel's destruction of the rules.
            removal = try LinkRemoval(links: links, names: mine.map(\.interface), namespace: namespace, holding: [rules?.fd].compactMap { $0 })
        }
        store.leases = remaining
        try store.save()
        return Release(removal: removal)
    }

    /// The end of a teardown, for after the task's processes are gone: `finish` waits until
    /// the veths are gone from the node (see LinkRemoval).
    public struct Release: ~Copyable {
        var removal: LinkRemoval?

        public consuming func finish() throws(NetworkError) {
            try removal.take()?.wait()
        }
    }

    /// Where a task's network is to be removed.
    public enum Node: Equatable, Sendable {
        /// This thread's network namespace.
        case current
        /// Another one, by an open descriptor.
        case namespace(Int32)
        /// It no longer exists: its bridge, veths and rules went with it.
        case gone
    }

    /// `tearDown` in the node whose leases are in `leases`, wherever it is: this namespace, one
    /// found by its cookie (`findNode`), or one gone with everything in it, where only the
    /// lease is left to release.
    public static func release(bridge: String, owner: String, leases: String) throws(NetworkError) -> Release {
        if (try? leaseDirectory()) == leases {
            return try tearDown(bridge: bridge, owner: owner, leases: leases, node: .current)
        }
        guard let path = findNode(leaseDirectory: leases), let namespace = try? FileDescriptor(opening: path, O_RDONLY, step: "opening \(path)")
        else {
            return try tearDown(bridge: bridge, owner: owner, leases: leases, node: .gone)
        }
        return try tearDown(bridge: bridge, owner: owner, leases: leases, node: .namespace(namespace.rawValue))
    }

    /// Where a node's leases live: one directory per network namespace, named by the
    /// namespace's cookie (SO_NETNS_COOKIE: never reused while the machine is up, unlike an
    /// inode number), shared by every `--root` that runs tasks on that node.
    public static let leaseDirectories = "/run/skiff-network"

    public static func leaseDirectory(namespace: Int32? = nil) throws(NetworkError) -> String {
        let cookie = skiff_netns_cookie(namespace ?? -1)
        guard cookie != 0 else { throw .system(step: "reading the node's network namespace cookie", errno: errno) }
        return leaseDirectories + "/" + String(cookie)
    }

    /// Every lease `owner` holds on any node: (lease directory, bridge) pairs, for a delete
    /// that has lost the container's record.
    public static func leases(of owner: String) -> [(directory: String, bridge: String)] {
        var found: [(String, String)] = []
        for node in listDirectory(leaseDirectories) {
            let directory = leaseDirectories + "/" + node
            for file in listDirectory(directory) where file.hasSuffix(".leases") {
                if LeaseStore.owners(inFile: directory + "/" + file).contains(owner) {
                    found.append((directory, String(file.dropLast(".leases".count))))
                }
            }
        }
        return found
    }

    /// A path to the network namespace whose lease directory is `directory`, found among the
    /// namespaces of running processes and `ip netns` names; nil if nothing holds it.
    public static func findNode(leaseDirectory directory: String) -> String? {
        candidateNodes().first { path in
            guard let namespace = try? FileDescriptor(opening: path, O_RDONLY, step: path) else { return false }
            return (try? leaseDirectory(namespace: namespace.rawValue)) == directory
        }
    }

    private static func candidateNodes() -> [String] {
        listDirectory("/run/netns").filter { !$0.hasPrefix(".") }.map { "/run/netns/" + $0 }
            + listDirectory("/proc").filter { $0.first?.isNumber == true }.map { "/proc/\($0)/ns/net" }
    }

    /// This thread's network namespace, as "net:[inode]": the node a task's network is on.
    public static func currentNode() -> String? { readLink("/proc/thread-self/ns/net") }

    /// A path to the network namespace called `node` ("net:[inode]"), found among the
    /// namespaces of running processes and `ip netns` names; nil if nothing holds it.
    public static func findNode(_ node: String) -> String? {
        candidateNodes().first { namespaceName(at: $0, kind: "net") == node }
    }

    /// Refuses a `bridge` annotation the node's interfaces rule out (`bridgeRefusal`). Run
    /// before anything of the task exists; `setUp` asks again, as the node may have changed.
    public static func check(_ config: NetworkConfig) throws(NetworkError) {
        var node = try RouteNetlink()
        if let refusal = try bridgeRefusal(try node.link(named: config.bridge), config) { throw refusal }
    }

    /// Why the node's link called `config.bridge` (nil: there is none) cannot be the task's
    /// bridge: an interface that is not a bridge (its uplink, `lo`, a veth), which skiff would
    /// enslave task interfaces to and address; or no interface, under a name skiff does not
    /// make bridges with (`RouteNetlink.bridgeNamePrefix`): a name another tool adopts when it
    /// finds it (docker0, cni0) would bring that tool's workloads onto a tenant's bridge; or
    /// a bridge someone else made that the node's operator has not opened to skiff's tasks
    /// (`NodeNetworkPolicy`): a tenant's annotation alone must not put a task next to
    /// Docker's containers or the node's uplink.
    private static func bridgeRefusal(_ link: RouteNetlink.Link?, _ config: NetworkConfig) throws(NetworkError) -> NetworkError? {
        let field = "annotations[\"\(NetworkConfig.prefix)bridge\"]"
        if let link, link.kind != "bridge" {
            return .badInput(SpecError(field, "\"\(config.bridge)\" is an interface of the node that is not a bridge (\(link.kind ?? "a device"))"))
        }
        if let link, link.alias != RouteNetlink.bridgeAlias, !link.isUnmarkedBridgeOfSkiff(named: config.bridge) {
            let policy = try NodeNetworkPolicy.load()
            if !policy.joinableBridges.contains(config.bridge) {
                return .badInput(
                    SpecError(
                        field,
                        "\"\(config.bridge)\" is a bridge skiff did not make, and the node's operator has not allowed skiff's tasks on it (\(NodeNetworkPolicy.directive) \(config.bridge) in \(policy.path))"
                    ))
            }
        }
        if link == nil, !config.bridge.hasPrefix(RouteNetlink.bridgeNamePrefix) {
            return .badInput(
                SpecError(
                    field,
                    "\"\(config.bridge)\" does not exist, and skiff makes only bridges named \(RouteNetlink.bridgeNamePrefix)*: a name another tool adopts when it finds it (docker0, cni0) would bring that tool's workloads onto a tenant's bridge; make the bridge first to use another name"
                ))
        }
        return nil
    }

    /// Makes the bridge (up, with the gateway address) if it is missing —
    /// only under a name starting `skiff`, never one another tool adopts when it finds it.
    /// A bridge skiff made (marked by its alias) is brought up and given the gateway again if
    /// needed; one that someone else made is used as it is: skiff attaches its tasks' veths
    /// and rules, but changes nothing of the bridge itself. Bridged IPv4 must pass the inet
    /// hooks (br_netfilter) for the rules to see it.
    ///
    /// `leases`: the node's lease directory, which holds this bridge's lease file now. When the
    /// bridge is to get the subnet (it is new, or skiff's without tasks on it) the subnet is
    /// checked against the node's routes first, under a lock of the directory: creates on two
    /// bridges must not both find one free subnet and both take it.
    ///
    /// A bridge someone else made (docker0, cni0) is joined only if the operator allows it
    /// (`bridgeRefusal`) and, when skiff's first task comes, its subnet passes the same route
    /// check (its own routes aside) and every port of it is skiff's: the addresses of
    /// workloads skiff does not know are not in its leases, and a task could be leased one of
    /// them and take its traffic.
    private static func ensureBridge(
        _ config: NetworkConfig, replacing previous: IPv4Subnet?, firstOnBridge: Bool, leases: String, node: inout RouteNetlink
    ) throws(NetworkError) {
        // Held from the subnet check until the bridge has that subnet.
        var nodeLock: FileLock?
        var link = try node.link(named: config.bridge)
        if let refusal = try bridgeRefusal(link, config) { throw refusal }
        if let unmarked = link, unmarked.isUnmarkedBridgeOfSkiff(named: config.bridge) {
            // A create of skiff's killed before it marked the bridge it made: mark it now,
            // unless something was put on it meanwhile (then it is not skiff's to take).
            guard try node.ports(ofBridge: unmarked.index).isEmpty else {
                throw .badInput(
                    SpecError("annotations[\"\(NetworkConfig.prefix)bridge\"]", "\"\(config.bridge)\" is a bridge skiff did not mark, with ports of others"))
            }
            try node.markBridge(config.bridge)
            link = try node.link(named: config.bridge)
        }
        let isOwn = link == nil || link?.alias == RouteNetlink.bridgeAlias
        if isOwn ? previous != config.subnet : firstOnBridge {
            do { nodeLock = try FileLock(path: leases, flags: O_RDONLY | O_DIRECTORY, mode: .exclusive, step: "locking \(leases)") } catch {
                throw .system(error)
            }
            try checkSubnetIsFree(config.subnet, bridge: link?.index, node: &node)
        }
        var created = false
        if link == nil {
            created = try node.createBridge(config.bridge)
            link = try node.link(named: config.bridge)
        }
        guard let link else { throw .system(step: "finding bridge \(config.bridge)", errno: ENODEV) }
        // Made in the meantime by someone else, as something else?
        if let refusal = try bridgeRefusal(link, config) { throw refusal }
        let index = link.index
        if created || link.alias == RouteNetlink.bridgeAlias {
            if !created { try node.setUp(index: index) }
            if let previous, previous != config.subnet {
                try node.removeAddress(previous.gateway, prefixLength: previous.prefixLength, index: index)
            }
            try node.addAddress(config.subnet.gateway, prefixLength: config.subnet.prefixLength, index: index)
        } else if firstOnBridge {
            try checkHasNoPortsOfOthers(config.bridge, index: index, node: &node)
        }
        nodeLock.take()?.unlock()  // the bridge has the subnet it was checked for
        try enableBridgeFiltering()
    }

    private static func checkHasNoPortsOfOthers(_ bridge: String, index: Int32, node: inout RouteNetlink) throws(NetworkError) {
        // Ports named like skiff's are veths of deleted tasks the kernel has not removed yet.
        let others = try node.ports(ofBridge: index).filter { !$0.hasPrefix(TaskEndpoint.interfacePrefix) }
        guard others.isEmpty else {
            throw .badInput(
                SpecError(
                    "annotations[\"\(NetworkConfig.prefix)bridge\"]",
                    "\"\(bridge)\" is a bridge skiff did not make, with ports of others (\(others.prefix(3).joined(separator: ", "))): a task there could be leased the address of a workload skiff does not know"
                ))
        }
    }

    private static func enableBridgeFiltering() throws(NetworkError) {
        let path = "/proc/sys/net/bridge/bridge-nf-call-iptables"
        let file: FileDescriptor
        do { file = try FileDescriptor(opening: path, O_RDWR, step: "opening \(path)") } catch {
            throw .system(step: error.step, errno: error.errno, detail: "the rules between tasks need br_netfilter (modprobe br_netfilter)")
        }
        let fd = file.rawValue
        var current: UInt8 = 0
        guard read(fd, &current, 1) == 1 else { throw .system(step: "reading \(path)", errno: errno) }
        if current == UInt8(ascii: "1") { return }
        var one = UInt8(ascii: "1")
        guard pwrite(fd, &one, 1, 0) == 1 else { throw .system(step: "writing \(path)", errno: errno) }
    }
}
