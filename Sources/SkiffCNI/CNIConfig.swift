// SPDX-License-Identifier: Apache-2.0
import SkiffNetwork
import SkiffSpec

/// The network configuration a runtime hands the plugin on stdin (one entry of a
/// `.conflist` in /etc/cni/net.d, with `"type": "skiff"`): the bridge and subnet, the rules
/// a pod that names none gets, the DNS to return, and what the runtime adds (`runtimeConfig`:
/// the pod's annotations, from containerd's CRI plugin).
public struct CNIConfig: Sendable {
    public var cniVersion: String
    public var name: String
    public var bridge: String?
    public var subnet: String?
    /// The rules and groups of a pod whose annotations name none (the annotations' grammar).
    public var ingress: String?
    public var egress: String?
    public var groups: String?
    /// Whether a pod may ask for its address (`io.skiff.network.address`).
    public var allowAddressAnnotation = false
    /// Returned as it is in the result.
    public var dns: JSONValue?
    /// The pod's annotations (`runtimeConfig["io.kubernetes.cri.pod-annotations"]`).
    public var podAnnotations: [String: String] = [:]

    /// The capability through which containerd's CRI plugin passes the pod's annotations.
    public static let podAnnotationsCapability = "io.kubernetes.cri.pod-annotations"

    /// `lenient`: VERSION reads only cniVersion, and takes no config at all.
    init(bytes: [UInt8], lenient: Bool) throws(CNIError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes.isEmpty && lenient ? Array("{}".utf8) : bytes) } catch {
            throw CNIError(.decodingFailure, "the network configuration on stdin is not JSON", details: "line \(error.line), column \(error.column): \(error.message)")
        }
        guard case .object(let members) = value else { throw CNIError(.decodingFailure, "the network configuration on stdin is not a JSON object") }
        let fields = Dictionary(members, uniquingKeysWith: { $1 })
        func string(_ key: String) throws(CNIError) -> String? {
            switch fields[key] {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: throw CNIError(.invalidNetworkConfig, "\(key): must be a string")
            }
        }
        cniVersion = try string("cniVersion") ?? (lenient ? "1.0.0" : "")
        name = try string("name") ?? ""
        if lenient { return }
        guard CNIRequest.supportedVersions.contains(cniVersion) else {
            throw CNIError(
                .incompatibleVersion, "cniVersion: \"\(cniVersion)\" is not supported", details: "supported: \(CNIRequest.supportedVersions.joined(separator: ", "))")
        }
        guard let type = try string("type"), type == "skiff" else { throw CNIError(.invalidNetworkConfig, "type: this plugin is \"skiff\"") }
        bridge = try string("bridge")
        subnet = try string("subnet")
        ingress = try string("ingress")
        egress = try string("egress")
        switch fields["groups"] {
        case .array(let names)?:
            groups = try names.map { name throws(CNIError) in
                guard case .string(let text) = name else { throw CNIError(.invalidNetworkConfig, "groups: must be strings") }
                return text
            }.joined(separator: ",")
        default: groups = try string("groups")
        }
        switch fields["allowAddressAnnotation"] {
        case nil, .null?: break
        case .bool(let allowed)?: allowAddressAnnotation = allowed
        default: throw CNIError(.invalidNetworkConfig, "allowAddressAnnotation: must be true or false")
        }
        if let dns = fields["dns"] {
            guard case .object = dns else { throw CNIError(.invalidNetworkConfig, "dns: must be an object (nameservers, domain, search, options)") }
            self.dns = dns
        }
        // A pod without annotations comes as null (containerd's CRI plugin).
        if case .object(let runtime)? = fields["runtimeConfig"], let annotations = runtime.first(where: { $0.0 == Self.podAnnotationsCapability })?.1,
            annotations != .null
        {
            guard case .object(let pairs) = annotations else {
                throw CNIError(.invalidNetworkConfig, "runtimeConfig[\"\(Self.podAnnotationsCapability)\"]: must be an object")
            }
            for (key, value) in pairs {
                guard case .string(let text) = value else { throw CNIError(.invalidNetworkConfig, "the pod's annotation \(key): must be a string") }
                podAnnotations[key] = text
            }
        }
    }

    /// The pod's network: the configuration's bridge and subnet, and the pod's own groups and
    /// rules when its annotations name any, else the configuration's. A pod cannot choose the
    /// bridge or subnet, nor (unless allowed) its address: those annotations are refused, as
    /// is anything malformed, naming the annotation and its value.
    public func network() throws(CNIError) -> NetworkConfig {
        let prefix = NetworkConfig.prefix
        let pod = podAnnotations.filter { $0.key.hasPrefix(prefix) }
        for key in ["bridge", "subnet"] where pod[prefix + key] != nil {
            throw CNIError(.invalidNetworkConfig, "annotation \(prefix)\(key): chosen by the network configuration (\(name)), not by a pod")
        }
        if pod[prefix + "address"] != nil, !allowAddressAnnotation {
            throw CNIError(.invalidNetworkConfig, "annotation \(prefix)address: this network (\(name)) does not let a pod choose its address (allowAddressAnnotation)")
        }
        var base: [String: String] = [:]
        if let bridge { base[prefix + "bridge"] = bridge }
        base[prefix + "subnet"] = subnet ?? NetworkConfig().subnet.description
        // The configuration's own values are checked on their own, so an error names them.
        var defaults = base
        if let ingress { defaults[prefix + "ingress"] = ingress }
        if let egress { defaults[prefix + "egress"] = egress }
        if let groups { defaults[prefix + "groups"] = groups }
        let fromConfig: NetworkConfig
        do { fromConfig = try NetworkConfig.parse(annotations: defaults)! } catch {
            throw CNIError(.invalidNetworkConfig, "the network configuration \(name): \(Self.configField(error.description))")
        }
        let podNamesRules = ["groups", "ingress", "egress"].contains { pod[prefix + $0] != nil }
        guard podNamesRules || pod[prefix + "address"] != nil else { return fromConfig }
        var merged = podNamesRules ? base : defaults
        for (key, value) in pod { merged[key] = value }
        do { return try NetworkConfig.parse(annotations: merged)! } catch {
            let key = pod.keys.sorted().first { error.path.contains($0) }
            let value = key.flatMap { pod[$0] }.map { " (value \"\($0)\")" } ?? ""
            throw CNIError(.invalidNetworkConfig, "the pod's \(error.description.replacing("annotations[\"", with: "annotation ").replacing("\"]:", with: ":"))\(value)")
        }
    }

    /// `annotations["io.skiff.network.ingress"]: …` said as the configuration's key `ingress: …`.
    private static func configField(_ text: String) -> String {
        text.replacing("annotations[\"\(NetworkConfig.prefix)", with: "").replacing("\"]:", with: ":")
    }
}
