// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffNetwork
import SkiffSpec
import SkiffSystem

/// skiff's task network as a CNI plugin (spec 1.0.0; 0.3.x and 0.4.0 configs accepted): the
/// same bridge, leases, nf_tables tables, groups, anti-spoofing and rule grammar as skiff's
/// own tasks, so pods of any runtime and skiff tasks share bridges and groups. The `skiff`
/// binary is the plugin when a runtime calls it with `CNI_COMMAND` set (installed, or
/// linked, as /opt/cni/bin/skiff).
public enum CNIPlugin {
    /// Runs one request; returns what goes on stdout and the exit status.
    public static func run(environment: [String: String], stdin: [UInt8]) -> (output: [UInt8], status: Int32) {
        // The version errors are said in: the config's, if it could be read.
        var version = "1.0.0"
        do throws(CNIError) {
            let request = try CNIRequest(environment: environment, stdin: stdin)
            version = request.config.cniVersion.isEmpty ? version : request.config.cniVersion
            let result = try handle(request)
            return (result.map { $0.serializedBytes(pretty: true) + [UInt8(ascii: "\n")] } ?? [], 0)
        } catch {
            return (error.json(version: version).serializedBytes(pretty: true) + [UInt8(ascii: "\n")], 1)
        }
    }

    static func handle(_ request: CNIRequest) throws(CNIError) -> JSONValue? {
        switch request.command {
        case .version:
            return .object([
                ("cniVersion", .string(request.config.cniVersion)),
                ("supportedVersions", .array(CNIRequest.supportedVersions.map(JSONValue.string))),
            ])
        case .add: return try add(request)
        case .del:
            try delete(request)
            return nil
        case .check:
            try check(request)
            return nil
        }
    }

    // MARK: ADD

    /// The pod's interface made, its address leased and its rules in, then the result. Any
    /// failure takes back what was made (as DEL would) before it is reported.
    static func add(_ request: CNIRequest) throws(CNIError) -> JSONValue {
        let network = try request.config.network()
        let namespacePath = request.namespacePath!
        let leases: String
        do throws(NetworkError) {
            try TaskNetwork.check(network)
            leases = try TaskNetwork.leaseDirectory()
            if try TaskNetwork.lease(of: request.owner, bridge: network.bridge, leases: leases) != nil {
                throw NetworkError.badInput(
                    SpecError("CNI_CONTAINERID", "\(request.containerID) already has \(request.interface) on \(network.bridge) (DEL it first)"))
            }
        } catch { throw Self.error(error) }
        let task: TaskEndpoint
        do throws(NetworkError) {
            task = try TaskNetwork.setUp(network, owner: request.owner, namespacePath: namespacePath, leases: leases, interface: request.interface)
        } catch {
            try? release(owner: request.owner)
            throw Self.error(error)
        }
        return result(request, network: network, task: task)
    }

    /// The spec's result: the bridge, the host end and the pod's interface (in its sandbox), the
    /// address with the gateway, the default route, and the configuration's DNS.
    static func result(_ request: CNIRequest, network: NetworkConfig, task: TaskEndpoint) -> JSONValue {
        let version = request.config.cniVersion
        var ip: [(String, JSONValue)] = []
        if version.hasPrefix("0.") { ip.append(("version", .string("4"))) }
        ip += [
            ("address", .string("\(task.address)/\(network.subnet.prefixLength)")),
            ("gateway", .string(network.subnet.gateway.description)), ("interface", .number("2")),
        ]
        var members: [(String, JSONValue)] = [
            ("cniVersion", .string(version)),
            (
                "interfaces",
                .array([
                    .object([("name", .string(network.bridge))]),
                    .object([("name", .string(task.hostInterface))]),
                    .object([("name", .string(request.interface)), ("mac", .string(mac(task.mac))), ("sandbox", .string(request.namespacePath ?? ""))]),
                ])
            ),
            ("ips", .array([.object(ip)])),
            ("routes", .array([.object([("dst", .string("0.0.0.0/0")), ("gw", .string(network.subnet.gateway.description))])])),
        ]
        if let dns = request.config.dns { members.append(("dns", dns)) }
        return .object(members)
    }

    static func mac(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    // MARK: DEL

    /// Everything the attachment holds on any bridge of any node goes: its rules, its veth, its
    /// lease. Called twice, for an ADD that never ran or stopped half-way, or after the
    /// namespace is gone, it finds what is left (or nothing) and succeeds.
    static func delete(_ request: CNIRequest) throws(CNIError) {
        do throws(NetworkError) { try release(owner: request.owner) } catch { throw Self.error(error) }
    }

    static func release(owner: String) throws(NetworkError) {
        // An ADD killed before it wrote the lease leaves its bridge's files with none.
        defer { if let here = try? TaskNetwork.leaseDirectory() { TaskNetwork.sweep(leases: here) } }
        for (directory, bridge) in TaskNetwork.leases(of: owner) {
            // The pod's namespace outlives DEL (the runtime removes it after): its veth is
            // deleted, as every teardown deletes it, before DEL answers.
            try TaskNetwork.release(bridge: bridge, owner: owner, leases: directory).finish()
        }
    }

    // MARK: CHECK

    /// Whether the pod's interface, address, routes and rules are still what ADD made.
    static func check(_ request: CNIRequest) throws(CNIError) {
        guard !["0.3.0", "0.3.1"].contains(request.config.cniVersion) else {
            throw CNIError(.incompatibleVersion, "CHECK: not in CNI \(request.config.cniVersion) (from 0.4.0 on)")
        }
        let network = try request.config.network()
        let leases: String
        let attached: Bool
        do throws(NetworkError) {
            leases = try TaskNetwork.leaseDirectory()
            attached = try TaskNetwork.lease(of: request.owner, bridge: network.bridge, leases: leases) != nil
        } catch { throw Self.error(error) }
        guard attached else { throw CNIError(.unknownContainer, "\(request.containerID) has no \(request.interface) on \(network.bridge)") }
        do throws(NetworkError) {
            try TaskNetwork.verify(network, owner: request.owner, leases: leases, namespacePath: request.namespacePath!, interface: request.interface)
        } catch { throw Self.error(error) }
    }

    /// A network error as CNI's: bad input is the configuration's (7), the rest the network's.
    static func error(_ error: NetworkError) -> CNIError {
        switch error {
        case .badInput(let spec): CNIError(.invalidNetworkConfig, spec.description)
        case .system(let failure): CNIError(failure.errno == EAGAIN ? .tryAgainLater : .networkFailure, failure.description)
        }
    }
}
