import Glibc
import SkiffSpec
import SkiffSystem

/// The addresses handed out on one bridge of one node, in `<node directory>/<bridge>.leases`
/// (see `TaskNetwork.leaseDirectory`: one per network namespace, whatever `--root` the
/// caller uses, since the bridge, its tables and its chains are the node's), guarded by an
/// exclusive `flock` on `<bridge>.lock` for as long as the store is open: every change to a
/// bridge's leases, links and rules happens under it, so no two tasks ever share an address
/// and a teardown never races a setup. The lease file is replaced atomically (a killed writer
/// leaves the old one), and it names each lease's owner (the container's state directory,
/// unique across roots) and groups, so `delete --force` can undo a create killed at any
/// instant, and a delete removes only what its own task holds.
struct LeaseStore: ~Copyable {
    struct Lease: Equatable {
        var address: IPv4Address
        /// The container's state directory (`<root>/<id>`): unique on the node.
        var owner: String
        var groups: [String]
        /// The node end of the task's veth.
        var interface: String
        /// The task's rules as its annotations gave them (canonical text): a reload that took
        /// the tables is undone from the leases, and a group's new member is let through
        /// every rule naming the group.
        var ingress: String = ""
        /// nil: egress is not restricted.
        var egress: String? = nil

        var endpoint: TaskEndpoint { TaskEndpoint(address: address, hostInterface: interface) }

        init(address: IPv4Address, owner: String, groups: [String], interface: String, ingress: String = "", egress: String? = nil) {
            self.address = address
            self.owner = owner
            self.groups = groups
            self.interface = interface
            self.ingress = ingress
            self.egress = egress
        }

        init(_ config: NetworkConfig, address: IPv4Address, owner: String, interface: String) {
            self.init(
                address: address, owner: owner, groups: config.groups, interface: interface,
                ingress: config.ingress.map(\.description).joined(separator: "; "),
                egress: config.egress.map { $0.map(\.description).joined(separator: "; ") })
        }

        /// The rules, parsed again (they were parsed when the task was made; a text that no
        /// longer parses allows nothing).
        var rules: (ingress: [NetworkRule], egress: [NetworkRule]?) {
            let ingress = (try? NetworkRule.list(self.ingress, field: "")) ?? []
            let egress = self.egress.map { (try? NetworkRule.list($0, field: "")) ?? [] }
            return (ingress, egress)
        }

        /// Every group the task is in or its rules name.
        var groupNames: Set<String> {
            let (ingress, egress) = rules
            return Set(groups).union((ingress + (egress ?? [])).compactMap { if case .group(let name) = $0.peer { name } else { nil } })
        }
    }

    private let lockFd: Int32
    private let path: String
    private let lockPath: String
    private let directory: String
    var subnet: IPv4Subnet?
    var leases: [Lease] = []
    /// The number each group has on this bridge (`group NAME NUMBER` lines): what the member
    /// maps and the group rules' elements hold. Given on first use, kept while the bridge has
    /// leases.
    private(set) var groupNumbers: [String: UInt32] = [:]

    /// Gives every group in `names` a number if it has none.
    mutating func number(_ names: some Sequence<String>) {
        for name in names.sorted() where groupNumbers[name] == nil {
            groupNumbers[name] = (groupNumbers.values.max() ?? 0) + 1
        }
    }

    init(directory: String, bridge: String) throws(NetworkError) {
        try self.init(directory: directory, bridge: bridge, waiting: true)!
    }

    /// `waiting`: false to take the lock only if it is free (nil if it is held).
    init?(directory: String, bridge: String, waiting: Bool) throws(NetworkError) {
        let lockPath = directory + "/" + bridge + ".lock"
        var lockFd: Int32 = -1
        while lockFd < 0 {
            if let parent = directory.lastIndex(of: "/").map({ String(directory[..<$0]) }), !parent.isEmpty,
                mkdir(parent, 0o700) != 0, errno != EEXIST
            {
                throw .system(step: "creating \(parent)", errno: errno)
            }
            if mkdir(directory, 0o700) != 0, errno != EEXIST { throw .system(step: "creating \(directory)", errno: errno) }
            let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                if errno == ENOENT { continue }  // the directory went with the last lease: make it again
                throw .system(step: "opening \(lockPath)", errno: errno)
            }
            while flock(fd, waiting ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
                if !waiting, errno == EWOULDBLOCK {
                    close(fd)
                    return nil
                }
                guard errno == EINTR else {
                    let code = errno
                    close(fd)
                    throw .system(step: "locking \(lockPath)", errno: code)
                }
            }
            // The release of a bridge's last lease removes the lock file under the lock: a
            // lock taken on the removed file guards nothing, so take the one now at the path.
            var held = stat(), named = stat()
            guard fstat(fd, &held) == 0, stat(lockPath, &named) == 0 || errno == ENOENT else {
                let code = errno
                close(fd)
                throw .system(step: "checking \(lockPath)", errno: code)
            }
            if named.st_nlink > 0, held.st_dev == named.st_dev, held.st_ino == named.st_ino {
                lockFd = fd
            } else {
                close(fd)
            }
        }
        let path = directory + "/" + bridge + ".leases"
        let text: String
        do throws(NetworkError) { text = try Self.read(path) } catch {
            close(lockFd)
            throw error
        }
        self.lockFd = lockFd
        self.path = path
        self.lockPath = lockPath
        self.directory = directory
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == "subnet" {
                subnet = IPv4Subnet(fields[1])
            } else if fields.count == 3, fields[0] == "group", let number = UInt32(fields[2]) {
                groupNumbers[String(fields[1])] = number
            } else if fields.count == 4 || fields.count == 6, let address = IPv4Address(fields[0]) {
                // address, owner, groups, interface, then (since the rules are kept with the
                // lease) ingress and egress: "-" none, "*" not restricted, else %-escaped.
                let ingress = fields.count == 6 && fields[4] != "-" ? Self.unescape(fields[4]) : ""
                let egress: String? = fields.count == 6 ? (fields[5] == "*" ? nil : fields[5] == "-" ? "" : Self.unescape(fields[5])) : nil
                leases.append(
                    Lease(
                        address: address, owner: Self.unescape(fields[1]),
                        groups: fields[2] == "-" ? [] : fields[2].split(separator: ",").map(String.init),
                        interface: String(fields[3]), ingress: ingress, egress: egress))
            }
        }
    }

    /// The file's text; empty if there is none yet.
    private static func read(_ path: String) throws(NetworkError) -> String {
        do throws(SystemError) { return String(decoding: try readFile(path), as: UTF8.self) } catch {
            if error.errno == ENOENT { return "" }
            throw .system(step: "reading \(path)", errno: error.errno)
        }
    }

    deinit { close(lockFd) }

    /// The lowest task address of `subnet` nobody holds and not in `excluded`.
    func firstFree(in subnet: IPv4Subnet, except excluded: Set<IPv4Address> = []) -> IPv4Address? {
        let taken = Set(leases.map(\.address.value)).union(excluded.map(\.value))
        return subnet.taskAddresses.lazy.first { !taken.contains($0) }.map(IPv4Address.init)
    }

    /// Owners are paths: spaces, newlines and '%' are written %-escaped.
    static func escape(_ owner: String) -> String {
        var text = ""
        for c in owner.unicodeScalars {
            switch c {
            case "%": text += "%25"
            case " ": text += "%20"
            case "\n": text += "%0A"
            case "\t": text += "%09"
            default: text.unicodeScalars.append(c)
            }
        }
        return text
    }

    static func unescape(_ text: Substring) -> String {
        guard text.contains("%") else { return String(text) }
        var result = String(text)
        for (escaped, plain) in [("%20", " "), ("%0A", "\n"), ("%09", "\t"), ("%25", "%")] {
            result = result.split(separator: escaped, omittingEmptySubsequences: false).joined(separator: plain)
        }
        return result
    }

    /// Writes the leases. A bridge with none left has no files: the lease file, then the lock
    /// file (a process waiting on it finds it gone once it has the lock, and locks a new
    /// one), then the node's directory if no other bridge's files are in it — so a node
    /// namespace that dies leaves nothing here. Nothing is written after that.
    func save() throws(NetworkError) {
        if leases.isEmpty {
            if unlink(path) != 0, errno != ENOENT { throw .system(step: "removing \(path)", errno: errno) }
            if unlink(lockPath) != 0, errno != ENOENT { throw .system(step: "removing \(lockPath)", errno: errno) }
            if rmdir(directory) != 0, errno != ENOTEMPTY, errno != EEXIST, errno != ENOENT {
                throw .system(step: "removing \(directory)", errno: errno)
            }
            return
        }
        var text = subnet.map { "subnet \($0)\n" } ?? ""
        for (name, number) in groupNumbers.sorted(by: { $0.value < $1.value }) { text += "group \(name) \(number)\n" }
        for lease in leases {
            let ingress = lease.ingress.isEmpty ? "-" : Self.escape(lease.ingress)
            let egress = lease.egress.map { $0.isEmpty ? "-" : Self.escape($0) } ?? "*"
            text +=
                "\(lease.address) \(Self.escape(lease.owner)) \(lease.groups.isEmpty ? "-" : lease.groups.joined(separator: ",")) \(lease.interface) \(ingress) \(egress)\n"
        }
        do throws(SystemError) { try writeAtomically(Array(text.utf8), to: path, mode: 0o600) } catch { throw .system(error) }
    }
}
