// SPDX-License-Identifier: Apache-2.0
import SkiffSpec
import SkiffSystem

/// What a config cannot say but a policy can demand (`--policy FILE`, JSON or YAML):
///
///     deniedSyscalls: [ptrace, mount]        # each must be refused inside the task
///     forbiddenCapabilities: [CAP_SYS_ADMIN] # in no capability set
///     maxMemory: 67108864                    # a memory limit at most this, enforced
///     readonlyRoot: true
///     noNewPrivileges: true
///     namespaces: [pid, network]             # must be the task's own
///     unreachable: ["tcp:10.77.0.3:5432"]
///     reachable: ["tcp:10.77.0.1:80"]
public struct CheckPolicy: Sendable, Equatable {
    public var deniedSyscalls: [String] = []
    public var forbiddenCapabilities: [String] = []
    public var maxMemory: Int64?
    public var readonlyRoot: Bool?
    public var noNewPrivileges: Bool?
    public var namespaces: [String] = []
    public var unreachable: [String] = []
    public var reachable: [String] = []

    static let keys = [
        "deniedSyscalls", "forbiddenCapabilities", "maxMemory", "readonlyRoot", "noNewPrivileges",
        "namespaces", "unreachable", "reachable",
    ]

    public init() {}

    /// Parses `text` (JSON if it starts with "{", else the YAML subset above). Errors name
    /// the file, and the line where there is one.
    public init(text: String, file: String) throws(CheckError) {
        let trimmed = text.drop { $0.isWhitespace }
        let fields: [(key: String, value: Value, line: Int)]
        if trimmed.first == "{" {
            let json: JSONValue
            do { json = try JSONValue.parse(Array(text.utf8)) } catch {
                throw CheckError("\(file): line \(error.line), column \(error.column): \(error.message)")
            }
            guard case .object(let members) = json else { throw CheckError("\(file): a policy is an object") }
            fields = try members.map { member throws(CheckError) in (member.0, try Value(json: member.1, file: file, key: member.0), 0) }
        } else {
            fields = try Self.yaml(text, file: file)
        }
        for (key, value, line) in fields {
            let place = line > 0 ? "\(file): line \(line)" : file
            switch key {
            case "deniedSyscalls": deniedSyscalls = try value.strings(place, key)
            case "forbiddenCapabilities":
                forbiddenCapabilities = try value.strings(place, key)
                for name in forbiddenCapabilities where LinuxNames.capabilities[name] == nil {
                    throw CheckError("\(place): forbiddenCapabilities: unknown capability \"\(name)\"")
                }
            case "maxMemory":
                guard case .scalar(let text) = value, let bytes = Int64(text), bytes > 0 else { throw CheckError("\(place): maxMemory: a number of bytes") }
                maxMemory = bytes
            case "readonlyRoot": readonlyRoot = try value.bool(place, key)
            case "noNewPrivileges": noNewPrivileges = try value.bool(place, key)
            case "namespaces":
                namespaces = try value.strings(place, key)
                for name in namespaces where Spec.NamespaceKind(rawValue: name) == nil {
                    throw CheckError("\(place): namespaces: unknown namespace \"\(name)\"")
                }
            case "unreachable": unreachable = try Self.peers(value.strings(place, key), place, key)
            case "reachable": reachable = try Self.peers(value.strings(place, key), place, key)
            default: throw CheckError("\(place): unknown key \"\(key)\" (known: \(Self.keys.joined(separator: ", ")))")
            }
        }
    }

    /// Peers are `tcp:ADDRESS:PORT`.
    private static func peers(_ list: [String], _ place: String, _ key: String) throws(CheckError) -> [String] {
        for peer in list {
            let parts = peer.split(separator: ":")
            guard parts.count == 3, parts[0] == "tcp", parts[1].split(separator: ".").count == 4, let port = Int(parts[2]), (1...65535).contains(port) else {
                throw CheckError("\(place): \(key): \"\(peer)\" is not tcp:ADDRESS:PORT")
            }
        }
        return list
    }

    enum Value {
        case scalar(String)
        case list([String])

        init(json: JSONValue, file: String, key: String) throws(CheckError) {
            switch json {
            case .string(let text), .number(let text): self = .scalar(text)
            case .bool(let flag): self = .scalar(flag ? "true" : "false")
            case .array(let items):
                self = .list(
                    try items.map { item throws(CheckError) in
                        guard case .string(let text) = item else { throw CheckError("\(file): \(key): a list of strings") }
                        return text
                    })
            default: throw CheckError("\(file): \(key): not a string, number, boolean or list")
            }
        }

        func strings(_ place: String, _ key: String) throws(CheckError) -> [String] {
            guard case .list(let items) = self else { throw CheckError("\(place): \(key): a list") }
            return items
        }

        func bool(_ place: String, _ key: String) throws(CheckError) -> Bool {
            guard case .scalar(let text) = self, text == "true" || text == "false" else { throw CheckError("\(place): \(key): true or false") }
            return text == "true"
        }
    }

    /// The YAML this needs: `key: scalar`, `key: [a, b]`, or `key:` and `- item` lines; `#`
    /// comments. Anything else is an error naming its line.
    private static func yaml(_ text: String, file: String) throws(CheckError) -> [(key: String, value: Value, line: Int)] {
        var fields: [(key: String, value: Value, line: Int)] = []
        var openList: (key: String, items: [String], line: Int)?
        func unquote(_ text: Substring) -> String {
            let t = text.trimmingWhitespace
            if t.count >= 2, let first = t.first, first == "\"" || first == "'", t.last == first { return String(t.dropFirst().dropLast()) }
            return String(t)
        }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map { $0 } ?? ""
            if line.trimmingWhitespace.isEmpty { continue }
            if line.trimmingWhitespace.hasPrefix("- ") || line.trimmingWhitespace == "-" {
                guard openList != nil else { throw CheckError("\(file): line \(number): a list item outside a list") }
                openList!.items.append(unquote(line.trimmingWhitespace.dropFirst(1)))
                continue
            }
            if let list = openList {
                fields.append((list.key, .list(list.items), list.line))
                openList = nil
            }
            guard line.first?.isWhitespace != true, let colon = line.firstIndex(of: ":") else {
                throw CheckError("\(file): line \(number): expected \"key: value\"")
            }
            let key = String(line[..<colon]).trimmingWhitespace
            let value = line[line.index(after: colon)...].trimmingWhitespace
            if value.isEmpty {
                openList = (key, [], number)
            } else if value.hasPrefix("[") {
                guard value.hasSuffix("]") else { throw CheckError("\(file): line \(number): an unclosed [") }
                let items = value.dropFirst().dropLast().split(separator: ",").map(unquote).filter { !$0.isEmpty }
                fields.append((key, .list(items), number))
            } else {
                fields.append((key, .scalar(unquote(value[...])), number))
            }
        }
        if let list = openList { fields.append((list.key, .list(list.items), list.line)) }
        return fields
    }
}
