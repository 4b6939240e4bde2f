// SPDX-License-Identifier: Apache-2.0
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
    /// One task's lease: its line of the lease file, fields separated by one space — address,
    /// owner, groups, interface, then (since the rules are kept with the lease) ingress and
    /// egress ("-" none, "*" egress not restricted; owners and rules %-escaped). A create or
    /// delete reads and writes every lease of its bridge but looks into one or two: the line
    /// is kept as read and written back as it is, and a field is decoded only when asked for
    /// (a thousand leases parsed into strings and formatted again cost a create more than
    /// the rest of its own work did).
    struct Lease: Equatable {
        let address: IPv4Address
        /// The line, its newline included.
        let line: ArraySlice<UInt8>

        /// A line of the file, if it is a lease's: an address and 4 or 6 fields in all (the
        /// first leases had no rules).
        init?(line: ArraySlice<UInt8>) {
            guard let space = line.firstIndex(ofByte: UInt8(ascii: " "), from: line.startIndex),
                let address = IPv4Address(dottedQuad: line[..<space])
            else { return nil }
            var fields = 2, next = space + 1
            while let found = line.firstIndex(ofByte: UInt8(ascii: " "), from: next) {
                fields += 1
                next = found + 1
            }
            guard fields == 4 || fields == 6 else { return nil }
            self.address = address
            self.line = line
        }

        init(address: IPv4Address, owner: String, groups: [String], interface: String, ingress: String = "", egress: String? = nil) {
            let ingressField = ingress.isEmpty ? "-" : LeaseStore.escape(ingress)
            let egressField = egress.map { $0.isEmpty ? "-" : LeaseStore.escape($0) } ?? "*"
            let text =
                "\(address) \(LeaseStore.escape(owner)) \(groups.isEmpty ? "-" : groups.joined(separator: ",")) \(interface) \(ingressField) \(egressField)\n"
            self.address = address
            self.line = ArraySlice(text.utf8)
        }

        init(_ config: NetworkConfig, address: IPv4Address, owner: String, interface: String) {
            self.init(
                address: address, owner: owner, groups: config.groups, interface: interface,
                ingress: config.ingress.map(\.description).joined(separator: "; "),
                egress: config.egress.map { $0.map(\.description).joined(separator: "; ") })
        }

        /// Field `n` (0: the address), as the file has it; "" past the last.
        private func field(_ n: Int) -> ArraySlice<UInt8> {
            var start = line.startIndex, count = 0
            let end = line.last == UInt8(ascii: "\n") ? line.index(before: line.endIndex) : line.endIndex
            while start <= end {
                let stop = line[start..<end].firstIndex(ofByte: UInt8(ascii: " "), from: start) ?? end
                if count == n { return line[start..<stop] }
                count += 1
                start = stop + 1
            }
            return []
        }

        private func text(_ n: Int) -> String { String(decoding: field(n), as: UTF8.self) }

        /// The container's state directory (`<root>/<id>`): unique on the node.
        var owner: String { LeaseStore.unescape(Substring(text(1))) }
        /// Whether `owner` holds this lease, `escapedOwner` being `LeaseStore.escape(owner)`'s
        /// bytes (compared as written, without decoding every lease's).
        func isHeld(byEscaped escapedOwner: [UInt8]) -> Bool { field(1).elementsEqual(escapedOwner) }
        var groups: [String] {
            let field = field(2)
            return field.elementsEqual("-".utf8) ? [] : field.split(separator: UInt8(ascii: ",")).map { String(decoding: $0, as: UTF8.self) }
        }
        /// The node end of the task's veth.
        var interface: String { text(3) }
        /// The task's rules as its annotations gave them (canonical text): a reload that took
        /// the tables is undone from the leases, and a group's new member is let through
        /// every rule naming the group.
        var ingress: String {
            let field = text(4)
            return field.isEmpty || field == "-" ? "" : LeaseStore.unescape(Substring(field))
        }
        /// nil: egress is not restricted.
        var egress: String? {
            let field = text(5)
            return field.isEmpty || field == "*" ? nil : field == "-" ? "" : LeaseStore.unescape(Substring(field))
        }
        var restrictsEgress: Bool {
            let field = field(5)
            return !(field.isEmpty || field.elementsEqual("*".utf8))
        }

        var endpoint: TaskEndpoint { TaskEndpoint(address: address, hostInterface: interface) }

        /// The rules, parsed again (they were parsed when the task was made; a text that no
        /// longer parses allows nothing).
        var rules: (ingress: [NetworkRule], egress: [NetworkRule]?) {
            let ingress = (try? NetworkRule.list(self.ingress, field: "")) ?? []
            let egress = self.egress.map { (try? NetworkRule.list($0, field: "")) ?? [] }
            return (ingress, egress)
        }
    }

    private let lock: FileLock
    private let path: String
    private let lockPath: String
    private let directory: String
    var subnet: IPv4Subnet?
    var leases: [Lease] = []
    /// The number each group has on this bridge (`group NAME NUMBER` lines): what the
    /// `members` set and the rules' group elements hold, 1 to the bridge's count of groups
    /// (each has its rules: `TaskFirewall.replaceGroupRules`). Given on first use, kept while
    /// the bridge has leases.
    var groupNumbers: [String: UInt32] = [:]

    /// The leases `owner` holds (one, or none; a task on the bridge twice would have two).
    func leases(heldBy owner: String) -> [Lease] {
        let escaped = Self.escapedBytes(of: owner)
        return leases.filter { $0.isHeld(byEscaped: escaped) }
    }

    /// The leases `owner` holds and the others, in one pass over the bridge's leases.
    func leases(partitionedBy owner: String) -> (held: [Lease], others: [Lease]) {
        let escaped = Self.escapedBytes(of: owner)
        var held: [Lease] = [], others: [Lease] = []
        for lease in leases {
            if lease.isHeld(byEscaped: escaped) { held.append(lease) } else { others.append(lease) }
        }
        return (held, others)
    }

    mutating func removeLeases(heldBy owner: String) {
        let escaped = Self.escapedBytes(of: owner)
        leases.removeAll { $0.isHeld(byEscaped: escaped) }
    }

    /// An owner as the lease file has it, for `Lease.isHeld(byEscaped:)`.
    private static func escapedBytes(of owner: String) -> [UInt8] { Array(escape(owner).utf8) }

    /// Gives every group in `names` a number if it has none; returns whether any was new.
    @discardableResult
    mutating func number(_ names: some Sequence<String>) -> Bool {
        let before = groupNumbers.count
        for name in names.sorted() where groupNumbers[name] == nil {
            groupNumbers[name] = UInt32(groupNumbers.count + 1)
        }
        return groupNumbers.count > before
    }

    init(directory: String, bridge: String) throws(NetworkError) {
        try self.init(directory: directory, bridge: bridge, waiting: true)!
    }

    /// `waiting`: false to take the lock only if it is free (nil if it is held).
    init?(directory: String, bridge: String, waiting: Bool) throws(NetworkError) {
        let lockPath = directory + "/" + bridge + ".lock"
        var held: FileLock?
        while true {
            if let parent = directory.lastIndex(of: "/").map({ String(directory[..<$0]) }), !parent.isEmpty,
                mkdir(parent, 0o700) != 0, errno != EEXIST
            {
                throw .system(step: "creating \(parent)", errno: errno)
            }
            if mkdir(directory, 0o700) != 0, errno != EEXIST { throw .system(step: "creating \(directory)", errno: errno) }
            let file: FileDescriptor
            do { file = try FileDescriptor(opening: lockPath, O_RDWR | O_CREAT, mode: 0o600, step: "opening \(lockPath)") } catch {
                if error.errno == ENOENT { continue }  // the directory went with the last lease: make it again
                throw .system(error)
            }
            let lock: FileLock
            do throws(SystemError) {
                if waiting {
                    lock = try FileLock(file, .exclusive, step: "locking \(lockPath)")
                } else {
                    guard let taken = try FileLock.attempt(file, .exclusive, step: "locking \(lockPath)") else { return nil }
                    lock = taken
                }
            } catch { throw .system(error) }
            // The release of a bridge's last lease removes the lock file under the lock: a
            // lock taken on the removed file guards nothing, so take the one now at the path.
            var locked = stat(), named = stat()
            guard fstat(lock.rawValue, &locked) == 0, stat(lockPath, &named) == 0 || errno == ENOENT else {
                throw .system(step: "checking \(lockPath)", errno: errno)
            }
            if named.st_nlink > 0, locked.st_dev == named.st_dev, locked.st_ino == named.st_ino {
                held = .some(lock)
                break
            }
        }
        let path = directory + "/" + bridge + ".leases"
        let text = try Self.read(path)
        self.lock = held.take()!
        self.path = path
        self.lockPath = lockPath
        self.directory = directory
        (subnet, groupNumbers, leases) = Self.parse(text)
    }

    /// The owners a lease file names, read without its lock: for a delete that has lost the
    /// container's record (`TaskNetwork.leases(of:)`).
    static func owners(inFile path: String) -> [String] {
        parse((try? readFile(path)) ?? []).leases.map(\.owner)
    }

    /// The file, a line at a time, on its bytes (a bridge of a thousand tasks has as many
    /// lines, read by every create and delete on it).
    private static func parse(_ bytes: [UInt8]) -> (subnet: IPv4Subnet?, groupNumbers: [String: UInt32], leases: [Lease]) {
        var subnet: IPv4Subnet?, groupNumbers: [String: UInt32] = [:], leases: [Lease] = []
        let bytes = bytes[...]
        var start = 0
        while start < bytes.count {
            let end = bytes.firstIndex(ofByte: UInt8(ascii: "\n"), from: start).map { $0 + 1 } ?? bytes.count
            let line = bytes[start..<end]
            start = end
            if let lease = Lease(line: line) {
                leases.append(lease)
                continue
            }
            let fields = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") })
            func text(_ i: Int) -> String { String(decoding: fields[i], as: UTF8.self) }
            if fields.count == 2, fields[0].elementsEqual("subnet".utf8) {
                subnet = IPv4Subnet(text(1))
            } else if fields.count == 3, fields[0].elementsEqual("group".utf8), let number = UInt32(text(2)) {
                groupNumbers[text(1)] = number
            }
        }
        return (subnet, groupNumbers, leases)
    }

    /// The file's bytes; none if there is no file yet.
    private static func read(_ path: String) throws(NetworkError) -> [UInt8] {
        do throws(SystemError) { return try readFile(path) } catch {
            if error.errno == ENOENT { return [] }
            throw .system(step: "reading \(path)", errno: error.errno)
        }
    }

    /// The lowest task address of `subnet` nobody holds and not in `excluded`.
    func firstFree(in subnet: IPv4Subnet, except excluded: Set<IPv4Address> = []) -> IPv4Address? {
        let taken = Set(leases.map(\.address.value)).union(excluded.map(\.value))
        return subnet.taskAddresses.lazy.first { !taken.contains($0) }.map(IPv4Address.init)
    }

    /// Owners are paths: spaces, newlines and '%' are written %-escaped.
    static func escape(_ owner: String) -> String {
        guard owner.utf8.contains(where: { $0 == 0x25 || $0 == 0x20 || $0 == 0x0A || $0 == 0x09 }) else { return owner }
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
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        let codes: [String: UInt8] = ["20": 0x20, "0A": 0x0A, "09": 0x09, "25": 0x25]
        var bytes: [UInt8] = []
        var i = text.utf8.startIndex
        while i < text.utf8.endIndex {
            let byte = text.utf8[i]
            let next = text.utf8.index(after: i)
            if byte == UInt8(ascii: "%"), text.utf8.distance(from: next, to: text.utf8.endIndex) >= 2 {
                let end = text.utf8.index(next, offsetBy: 2)
                if let plain = codes[String(decoding: text.utf8[next..<end], as: UTF8.self)] {
                    bytes.append(plain)
                    i = end
                    continue
                }
            }
            bytes.append(byte)
            i = next
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes the leases. A bridge with none left has no files: the lease file, then the lock
    /// file (a process waiting on it finds it gone once it has the lock, and locks a new
    /// one), then the node's directory if no other bridge's files are in it — so a node
    /// namespace that dies leaves nothing here. Nothing is written after that.
    func save() throws(NetworkError) {
        if leases.isEmpty {
            // A save killed before its rename leaves its temporary file (`writeAtomically`):
            // under the lock no save is under way, so any is a dead one's.
            let name = String(path[path.index(after: path.lastIndex(of: "/")!)...])
            for file in listDirectory(directory) where file.hasPrefix(name + ".") && file.hasSuffix(".tmp") { unlink(directory + "/" + file) }
            if unlink(path) != 0, errno != ENOENT { throw .system(step: "removing \(path)", errno: errno) }
            if unlink(lockPath) != 0, errno != ENOENT { throw .system(step: "removing \(lockPath)", errno: errno) }
            if rmdir(directory) != 0, errno != ENOTEMPTY, errno != EEXIST, errno != ENOENT {
                throw .system(step: "removing \(directory)", errno: errno)
            }
            return
        }
        var header = subnet.map { "subnet \($0)\n" } ?? ""
        for (name, number) in groupNumbers.sorted(by: { $0.value < $1.value }) { header += "group \(name) \(number)\n" }
        var bytes = Array(header.utf8)
        bytes.reserveCapacity(bytes.count + leases.reduce(0) { $0 + $1.line.count })
        for lease in leases {
            bytes.append(contentsOf: lease.line)
            if lease.line.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }  // a file's last line, edited by hand
        }
        do throws(SystemError) { try writeAtomically(bytes, to: path, mode: 0o600) } catch { throw .system(error) }
    }
}

extension ArraySlice<UInt8> {
    /// The first index of `byte` at or after `start`, found by glibc's `memchr`: every create
    /// and delete on a bridge scans its lease file, a line per task, and a byte-at-a-time
    /// search of a thousand lines was most of what the file cost.
    func firstIndex(ofByte byte: UInt8, from start: Index) -> Index? {
        withUnsafeBufferPointer { buffer in
            let offset = start - startIndex
            guard let base = buffer.baseAddress, offset >= 0, offset < buffer.count,
                let found = memchr(base + offset, Int32(byte), buffer.count - offset)
            else { return nil }
            return startIndex + (UnsafeRawPointer(found) - UnsafeRawPointer(base))
        }
    }
}
