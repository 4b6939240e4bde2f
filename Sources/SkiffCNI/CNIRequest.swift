// SPDX-License-Identifier: Apache-2.0
import SkiffNetwork
import SkiffSpec

/// One invocation of the plugin, as the runtime makes it: the command and the attachment in
/// the environment (`CNI_*`), the network configuration on stdin.
public struct CNIRequest: Sendable {
    public enum Command: String, Sendable { case add = "ADD", del = "DEL", check = "CHECK", version = "VERSION" }

    public var command: Command
    /// The attachment's key with `interface` (the spec's: container id + ifname).
    public var containerID: String
    public var namespacePath: String?
    public var interface: String
    public var config: CNIConfig

    /// The versions of the spec the plugin speaks (0.4.0 configs are accepted from older clients).
    public static let supportedVersions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]

    /// The owner its lease carries: the spec's attachment key, which names it on the node.
    public var owner: String { "cni:\(containerID):\(interface)" }

    /// Reads the request; a missing or malformed variable or config is a CNI error naming it.
    public init(environment: [String: String], stdin: [UInt8]) throws(CNIError) {
        guard let name = environment["CNI_COMMAND"], let command = Command(rawValue: name) else {
            throw CNIError(.invalidEnvironment, "CNI_COMMAND: \"\(environment["CNI_COMMAND"] ?? "")\" is not ADD, DEL, CHECK or VERSION")
        }
        self.command = command
        if command == .version {
            containerID = ""
            interface = ""
            config = try CNIConfig(bytes: stdin, lenient: true)
            return
        }
        config = try CNIConfig(bytes: stdin, lenient: false)
        guard let id = environment["CNI_CONTAINERID"], Self.isContainerID(id) else {
            throw CNIError(
                .invalidEnvironment, "CNI_CONTAINERID: \"\(environment["CNI_CONTAINERID"] ?? "")\" is not a container id (letters, digits, '_', '.', '-')")
        }
        containerID = id
        guard let interface = environment["CNI_IFNAME"], Self.isInterfaceName(interface) else {
            throw CNIError(.invalidEnvironment, "CNI_IFNAME: \"\(environment["CNI_IFNAME"] ?? "")\" is not an interface name (1 to 15 letters, digits, '.', '-', '_')")
        }
        self.interface = interface
        let netns = environment["CNI_NETNS"].flatMap { $0.isEmpty ? nil : $0 }
        // DEL must work when the namespace is gone; ADD and CHECK need it.
        if command != .del {
            guard let netns, netns.hasPrefix("/") else { throw CNIError(.invalidEnvironment, "CNI_NETNS: a network namespace path is required for \(command.rawValue)") }
        }
        namespacePath = netns
    }

    /// The spec's rule for a container id: alphanumerics with `_`, `.` and `-`, not starting
    /// with a punctuation; skiff also bounds its length (it names a lease).
    static func isContainerID(_ id: String) -> Bool {
        guard (1...256).contains(id.utf8.count), let first = id.utf8.first, isAlphanumeric(first) else { return false }
        return id.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    static func isInterfaceName(_ name: String) -> Bool {
        guard (1...15).contains(name.utf8.count), name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
