// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec
import SkiffSystem

/// What the node's operator allows skiff's tasks, beyond what a tenant's annotations can ask
/// for: today, which bridges skiff did not make its tasks may join. A file of lines
/// `join-bridge NAME` (`#` starts a comment), at `/etc/skiff/network.conf` or where
/// `SKIFF_NETWORK_CONFIG` says (the engine's environment, which no tenant sets). A missing
/// file allows nothing.
public struct NodeNetworkPolicy: Equatable, Sendable {
    public static let defaultPath = "/etc/skiff/network.conf"
    public static let environmentVariable = "SKIFF_NETWORK_CONFIG"
    static let directive = "join-bridge"

    public var path: String
    /// Bridges someone else made (docker0, an uplink bridge) that tasks may join.
    public var joinableBridges: Set<String> = []

    /// The policy in force for this process.
    public static func load() throws(NetworkError) -> NodeNetworkPolicy {
        let path = getenv(environmentVariable).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? defaultPath
        let bytes: [UInt8]
        do throws(SystemError) { bytes = try readFile(path) } catch {
            if error.errno == ENOENT { return NodeNetworkPolicy(path: path) }
            throw .system(step: "reading \(path)", errno: error.errno)
        }
        do throws(SpecError) { return try parse(String(decoding: bytes, as: UTF8.self), path: path) } catch { throw .badInput(error) }
    }

    /// Strict: an unknown directive or a bad name is an error naming the file and line.
    public static func parse(_ text: String, path: String) throws(SpecError) -> NodeNetworkPolicy {
        var policy = NodeNetworkPolicy(path: path)
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first else { continue }
            let field = "\(path):\(number + 1)"
            guard first == directive, words.count == 2 else {
                throw SpecError(field, "\"\(content.trimmingWhitespace)\": expected \"\(directive) NAME\"")
            }
            policy.joinableBridges.insert(try NetworkConfig.bridgeName(String(words[1]), field: field))
        }
        return policy
    }
}
