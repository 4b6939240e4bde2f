// SPDX-License-Identifier: Apache-2.0
import SkiffNetwork
import SkiffSpec
import Testing

@testable import SkiffCNI

/// What the plugin reads and says, without a kernel: the environment and configuration of a
/// request, the pod's network from its annotations, the result and the errors in the spec's
/// JSON.
@Suite("CNI requests and results")
struct CNIRequestTests {
    static let environment = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "abc123", "CNI_IFNAME": "eth0", "CNI_NETNS": "/run/netns/pod"]

    static func config(_ extra: String = "", annotations: String = "", version: String = "1.0.0") -> [UInt8] {
        Array(
            """
            {"cniVersion": "\(version)", "name": "pods", "type": "skiff", "bridge": "skiff0", "subnet": "10.77.0.0/16"\(extra),
             "runtimeConfig": {"io.kubernetes.cri.pod-annotations": {\(annotations)}}}
            """.utf8)
    }

    static func request(_ environment: [String: String] = environment, _ config: [UInt8] = config()) throws(CNIError) -> CNIRequest {
        try CNIRequest(environment: environment, stdin: config)
    }

    static func code(_ body: () throws -> Void) -> CNIError.Code? {
        do { try body() } catch { return (error as? CNIError)?.code }
        return nil
    }

    @Test func theAttachmentIsItsContainerAndInterface() throws {
        let request = try Self.request()
        #expect(request.command == .add && request.containerID == "abc123" && request.interface == "eth0")
        #expect(request.namespacePath == "/run/netns/pod")
        #expect(request.owner == "cni:abc123:eth0")
    }

    @Test(arguments: [
        ("CNI_COMMAND", "REMOVE"), ("CNI_CONTAINERID", "a/../b"), ("CNI_CONTAINERID", ""), ("CNI_CONTAINERID", "-leading"),
        ("CNI_IFNAME", "a-name-longer-than-15"), ("CNI_IFNAME", ".."), ("CNI_NETNS", "relative/path"),
    ])
    func badEnvironmentIsCode4(_ variable: String, _ value: String) {
        var environment = Self.environment
        environment[variable] = value
        #expect(Self.code { _ = try Self.request(environment) } == .invalidEnvironment)
    }

    @Test func delNeedsNoNamespace() throws {
        var environment = Self.environment
        environment["CNI_COMMAND"] = "DEL"
        environment["CNI_NETNS"] = nil
        #expect(try Self.request(environment).namespacePath == nil)
        environment["CNI_COMMAND"] = "ADD"
        #expect(Self.code { _ = try Self.request(environment) } == .invalidEnvironment)
    }

    @Test func versionNeedsNoConfiguration() throws {
        let request = try CNIRequest(environment: ["CNI_COMMAND": "VERSION"], stdin: [])
        #expect(request.command == .version && request.config.cniVersion == "1.0.0")
        let (output, status) = CNIPlugin.run(environment: ["CNI_COMMAND": "VERSION"], stdin: Array("{\"cniVersion\": \"0.4.0\"}".utf8))
        #expect(status == 0)
        let text = String(decoding: output, as: UTF8.self)
        #expect(text.contains("\"0.4.0\"") && text.contains("\"supportedVersions\""))
    }

    @Test func aConfigurationThatIsNotJSONIsCode6AndAnUnknownVersionCode1() {
        #expect(Self.code { _ = try Self.request(Self.environment, Array("{\"cniVersion\": ".utf8)) } == .decodingFailure)
        #expect(Self.code { _ = try Self.request(Self.environment, Array("[1]".utf8)) } == .decodingFailure)
        #expect(Self.code { _ = try Self.request(Self.environment, Self.config(version: "2.0.0")) } == .incompatibleVersion)
        #expect(Self.code { _ = try Self.request(Self.environment, Array("{\"cniVersion\": \"1.0.0\", \"type\": \"bridge\"}".utf8)) } == .invalidNetworkConfig)
        #expect(Self.code { _ = try Self.request(Self.environment, Self.config(", \"dns\": [1]")) } == .invalidNetworkConfig)
        #expect(Self.code { _ = try Self.request(Self.environment, Self.config(", \"bridge\": 7")) } == .invalidNetworkConfig)
    }

    @Test func aPodThatNamesNoRulesGetsTheConfigurations() throws {
        let request = try Self.request(Self.environment, Self.config(", \"ingress\": \"tcp 80 10.0.0.0/8\", \"groups\": [\"web\", \"api\"]"))
        let network = try request.config.network()
        #expect(network.bridge == "skiff0" && network.subnet.description == "10.77.0.0/16")
        #expect(network.groups == ["web", "api"])
        #expect(network.ingress.count == 1 && network.egress == nil)
    }

    @Test func aPodsOwnRulesReplaceTheConfigurations() throws {
        let request = try Self.request(
            Self.environment,
            Self.config(
                ", \"ingress\": \"tcp 80 10.0.0.0/8\", \"groups\": \"web\"", annotations: "\"io.skiff.network.groups\": \"db\", \"io.skiff.network.egress\": \"\""))
        let network = try request.config.network()
        #expect(network.groups == ["db"] && network.ingress.isEmpty && network.egress == [])
        // Annotations of other tools are not the plugin's.
        let other = try Self.request(Self.environment, Self.config(annotations: "\"io.kubernetes.pod.name\": \"x\""))
        #expect(try other.config.network().groups.isEmpty)
    }

    @Test func aPodCannotChooseTheBridgeTheSubnetOrItsAddressUnlessAllowed() throws {
        for key in ["bridge", "subnet", "address"] {
            let request = try Self.request(Self.environment, Self.config(annotations: "\"io.skiff.network.\(key)\": \"x\""))
            #expect(Self.code { _ = try request.config.network() } == .invalidNetworkConfig, "\(key)")
        }
        let allowed = try Self.request(
            Self.environment, Self.config(", \"allowAddressAnnotation\": true", annotations: "\"io.skiff.network.address\": \"10.77.0.9\""))
        #expect(try allowed.config.network().address?.description == "10.77.0.9")
    }

    @Test func aMalformedAnnotationIsNamedWithItsValue() throws {
        let request = try Self.request(Self.environment, Self.config(annotations: "\"io.skiff.network.ingress\": \"tcp 99999 web\""))
        do {
            _ = try request.config.network()
            Issue.record("a port of 99999 was accepted")
        } catch {
            #expect(error.code == .invalidNetworkConfig)
            #expect(error.message.contains("annotation io.skiff.network.ingress") && error.message.contains("\"tcp 99999 web\""), "\(error.message)")
        }
    }

    @Test func aMalformedConfigurationIsNamedByItsKey() throws {
        let request = try Self.request(Self.environment, Self.config(", \"egress\": \"tcp 80 nowhere/99\""))
        do {
            _ = try request.config.network()
            Issue.record("a bad egress was accepted")
        } catch {
            #expect(error.message.hasPrefix("the network configuration pods: egress:"), "\(error.message)")
        }
    }

    @Test func errorsAreTheSpecsJSON() {
        let (output, status) = CNIPlugin.run(environment: ["CNI_COMMAND": "ADD"], stdin: Self.config())
        #expect(status == 1)
        guard case .object(let members)? = try? JSONValue.parse(output) else {
            Issue.record("not JSON: \(String(decoding: output, as: UTF8.self))")
            return
        }
        #expect(members.map(\.0) == ["cniVersion", "code", "msg"])
        #expect(members[1].1 == .number("4"))
    }

    @Test func theResultHasTheSpecsShapeForEachVersion() throws {
        let task = TaskEndpoint(address: IPv4Address("10.77.0.5")!, hostInterface: "skv0a4d0005abc")
        let network = try NetworkConfig.parse(annotations: ["io.skiff.network.subnet": "10.77.0.0/16"])!
        for (version, versioned) in [("1.0.0", false), ("0.4.0", true)] {
            let request = try Self.request(Self.environment, Self.config(", \"dns\": {\"nameservers\": [\"10.77.0.1\"]}", version: version))
            let text = CNIPlugin.result(request, network: network, task: task).serialized()
            #expect(text.contains("\"address\":\"10.77.0.5/16\"") || text.contains("\"address\": \"10.77.0.5/16\""), "\(text)")
            #expect(text.contains("\"sandbox\"") && text.contains("/run/netns/pod"))
            #expect(text.contains("02:73:0a:4d:00:05"))
            #expect(text.contains("\"version\"") == versioned)
            #expect(text.contains("nameservers"))
        }
    }

    @Test func checkIsNotInTheOldestVersions() throws {
        var environment = Self.environment
        environment["CNI_COMMAND"] = "CHECK"
        let (output, status) = CNIPlugin.run(environment: environment, stdin: Self.config(version: "0.3.1"))
        #expect(status == 1 && String(decoding: output, as: UTF8.self).contains("\"code\": 1"))
    }
}

@Suite("CNI: what containerd sends")
struct CNIContainerdTests {
    /// A pod without annotations: containerd's CRI plugin sends the capability's key as null.
    @Test func aPodWithoutAnnotationsComesAsNull() throws {
        let config = Array(
            #"{"cniVersion": "1.0.0", "name": "p", "type": "skiff", "runtimeConfig": {"io.kubernetes.cri.pod-annotations": null}}"#.utf8)
        let request = try CNIRequest(environment: CNIRequestTests.environment, stdin: config)
        #expect(request.config.podAnnotations.isEmpty)
        #expect(try request.config.network().groups.isEmpty)
    }
}
