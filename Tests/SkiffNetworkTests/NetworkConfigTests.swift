// SPDX-License-Identifier: Apache-2.0
import SkiffNetwork
import SkiffSpec
import Testing

@Suite struct NetworkConfigTests {
    let p = NetworkConfig.prefix

    @Test func noAnnotationsMeansNoNetwork() throws {
        #expect(try NetworkConfig.parse(annotations: nil) == nil)
        #expect(try NetworkConfig.parse(annotations: ["org.example": "x"]) == nil)
    }

    @Test func defaultsFollowTheCloudConvention() throws {
        let config = try #require(try NetworkConfig.parse(annotations: [p + "groups": "web"]))
        #expect(config.bridge == "skiff0")
        #expect(config.subnet.description == "10.77.0.0/16")
        #expect(config.subnet.gateway.description == "10.77.0.1")
        #expect(config.address == nil)
        #expect(config.ingress.isEmpty)  // closed
        #expect(config.egress == nil)  // open
    }

    @Test func everyKey() throws {
        let config = try #require(
            try NetworkConfig.parse(annotations: [
                p + "bridge": "br-tasks", p + "subnet": "172.30.8.0/22", p + "address": "172.30.9.7",
                p + "groups": "web, api_v2", p + "ingress": "tcp 5432 web; udp 53,5353 10.0.0.0/8\ntcp 8000-8080,9000 0.0.0.0/0; icmp web",
                p + "egress": "any 172.30.8.0/22; tcp 443 1.2.3.4",
            ]))
        #expect(config.bridge == "br-tasks")
        #expect(config.subnet.description == "172.30.8.0/22")
        #expect(config.address?.description == "172.30.9.7")
        #expect(config.groups == ["web", "api_v2"])
        #expect(
            config.ingress == [
                NetworkRule(proto: .tcp, ports: [5432...5432], peer: .group("web")),
                NetworkRule(proto: .udp, ports: [53...53, 5353...5353], peer: .cidr(IPv4Subnet("10.0.0.0/8")!)),
                NetworkRule(proto: .tcp, ports: [8000...8080, 9000...9000], peer: .cidr(IPv4Subnet("0.0.0.0/0")!)),
                NetworkRule(proto: .icmp, ports: [], peer: .group("web")),
            ])
        #expect(
            config.egress == [
                NetworkRule(proto: .any, ports: [], peer: .cidr(IPv4Subnet("172.30.8.0/22")!)),
                NetworkRule(proto: .tcp, ports: [443...443], peer: .cidr(IPv4Subnet("1.2.3.4/32")!)),
            ])
        #expect(config.referencedGroups == ["web"])
    }

    @Test func anEmptyEgressListClosesEgress() throws {
        let config = try #require(try NetworkConfig.parse(annotations: [p + "egress": ""]))
        #expect(config.egress == [])
    }

    @Test(arguments: [
        ("subnet", "10.77.0.0/33", "is not an IPv4 CIDR"),
        ("subnet", "10.77.0.1/16", "is not an IPv4 CIDR"),
        ("subnet", "10.77.0/16", "is not an IPv4 CIDR"),
        ("subnet", "10.0.0.0/31", "from /8 to /30"),
        ("subnet", "8.8.8.0/30", "8.8.8.0/30 is not private address space (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10)"),
        ("subnet", "172.32.0.0/16", "is not private address space"),
        ("subnet", "127.0.0.0/8", "is not private address space"),
        ("subnet", "169.254.0.0/16", "is not private address space"),
        ("subnet", "100.0.0.0/8", "is not private address space"),
        ("address", "10.77.0.256", "is not an IPv4 address"),
        ("address", "010.77.0.5", "is not an IPv4 address"),
        ("address", "10.78.0.5", "is not a task address of the subnet 10.77.0.0/16"),
        ("address", "10.77.0.1", "is not a task address"),
        ("address", "10.77.255.255", "is not a task address"),
        ("ingress", "tcp 70000 web", "rule 1 (\"tcp 70000 web\"): port \"70000\" is out of range"),
        ("ingress", "tcp 0 web", "port \"0\" is out of range"),
        ("ingress", "tcp 90-80 web", "port range \"90-80\" is empty"),
        ("ingress", "tcp 80; sctp 80 web", "rule 1 (\"tcp 80\")"),
        ("ingress", "sctp 80 web", "unknown protocol \"sctp\" (tcp, udp, icmp or any)"),
        ("egress", "icmp 8 web", "icmp has no ports"),
        ("ingress", "tcp 80 web$", "group \"web$\": a group name starts with a letter"),
        ("ingress", "tcp 80 10.0.0.0/33", "peer \"10.0.0.0/33\" is not an IPv4 CIDR"),
        ("groups", "web,d b", "group \"d b\""),
        ("groups", "-web", "group \"-web\""),
        ("bridge", "a-bridge-name-16", "an interface name has 1 to 15 characters"),
        ("bridge", "br/0", "only letters, digits"),
        ("nonsense", "1", "unknown network annotation"),
    ])
    func badInputNamesTheAnnotation(key: String, value: String, message: String) {
        do {
            _ = try NetworkConfig.parse(annotations: [p + key: value])
            Issue.record("\(key)=\(value) was accepted")
        } catch {
            #expect(error.path == "annotations[\"\(p + key)\"]")
            #expect(error.message.contains(message), "\(error.message)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func addressesAndSubnets() {
        #expect(IPv4Address("10.77.0.5")?.hex == "0a4d0005")
        #expect(IPv4Subnet("10.77.0.0/16")!.contains(IPv4Address("10.77.200.1")!))
        #expect(!IPv4Subnet("10.77.0.0/16")!.contains(IPv4Address("10.78.0.1")!))
        #expect(IPv4Subnet("10.77.0.0/30")!.taskAddresses == IPv4Address("10.77.0.2")!.value...IPv4Address("10.77.0.2")!.value)
        #expect(IPv4Subnet("1.2.3.4")?.prefixLength == 32)
        let wide = IPv4Subnet("10.0.0.0/8")!, narrow = IPv4Subnet("10.77.4.0/24")!, other = IPv4Subnet("10.78.0.0/16")!
        #expect(wide.contains(narrow) && !narrow.contains(wide) && wide.overlaps(narrow) && narrow.overlaps(wide))
        #expect(!narrow.overlaps(other) && !other.overlaps(narrow))
        #expect(IPv4Subnet.privateRanges.contains { $0.contains(IPv4Subnet("172.31.255.252/30")!) })
        #expect(IPv4Subnet(holding: IPv4Address("10.77.3.9")!, prefixLength: 16) == IPv4Subnet("10.77.0.0/16"))
    }

    /// A dotted quad, parsed byte by byte (a lease file's thousand addresses), and nothing
    /// else: what a hostile annotation or a damaged lease file could hold is refused.
    @Test func dottedQuadsOnly() {
        #expect(IPv4Address("10.77.0.5")?.value == 0x0a4d_0005)
        #expect(IPv4Address("0.0.0.0")?.value == 0)
        #expect(IPv4Address("255.255.255.255")?.value == UInt32.max)
        for bad in [
            "", ".", "...", "1.2.3", "1.2.3.4.", ".1.2.3", "1.2.3.4.5", "1..3.4", "01.2.3.4", "1.2.3.00", "1.2.3.256", "1000.1.1.1",
            "1.2.3.-1", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\0", "1.2.3.0x1", "١.٢.٣.٤", "1.2.3.4/32", "4294967295",
        ] {
            #expect(IPv4Address(bad) == nil, "\(bad.debugDescription) parsed")
        }
    }
}
