import Glibc
import SkiffSpec

/// The addresses handed out on one bridge, in `<root>/.network/<bridge>.leases`, guarded by
/// an exclusive `flock` on `<bridge>.lock` for as long as the store is open: every change to
/// a bridge's leases, links and rules happens under it, so parallel creates never share an
/// address and a teardown never races a setup. The lease file is replaced atomically (a
/// killed writer leaves the old one), and it names each lease's container and groups, so
/// `delete --force` can undo a create killed at any instant.
struct LeaseStore: ~Copyable {
    struct Lease: Equatable {
        var address: IPv4Address
        var containerID: String
        var groups: [String]
        /// The node end of the task's veth.
        var interface: String

        var endpoint: TaskEndpoint { TaskEndpoint(address: address, hostInterface: interface) }
    }

    private let lockFd: Int32
    private let path: String
    var subnet: IPv4Subnet?
    var leases: [Lease] = []

    init(root: String, bridge: String) throws(NetworkError) {
        let directory = root + "/.network"
        if mkdir(root, 0o711) != 0, errno != EEXIST { throw .system(step: "creating \(root)", errno: errno) }
        if mkdir(directory, 0o700) != 0, errno != EEXIST { throw .system(step: "creating \(directory)", errno: errno) }
        let lockPath = directory + "/" + bridge + ".lock"
        let lockFd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFd >= 0 else { throw .system(step: "opening \(lockPath)", errno: errno) }
        while flock(lockFd, LOCK_EX) != 0 {
            guard errno == EINTR else { let code = errno; close(lockFd); throw .system(step: "locking \(lockPath)", errno: code) }
        }
        let path = directory + "/" + bridge + ".leases"
        let text: String
        do throws(NetworkError) { text = try Self.read(path) } catch { close(lockFd); throw error }
        self.lockFd = lockFd
        self.path = path
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == "subnet" {
                subnet = IPv4Subnet(fields[1])
            } else if fields.count == 4, let address = IPv4Address(fields[0]) {
                leases.append(Lease(address: address, containerID: String(fields[1]),
                                    groups: fields[2] == "-" ? [] : fields[2].split(separator: ",").map(String.init),
                                    interface: String(fields[3])))
            }
        }
    }

    /// The file's text; empty if there is none yet.
    private static func read(_ path: String) throws(NetworkError) -> String {
        do throws(SystemErrorText) { return String(decoding: try readFile(path), as: UTF8.self) } catch {
            if error.errno == ENOENT { return "" }
            throw .system(step: "reading \(path)", errno: error.errno)
        }
    }

    deinit { close(lockFd) }

    /// The lowest task address of `subnet` nobody holds.
    func firstFree(in subnet: IPv4Subnet) -> IPv4Address? {
        let taken = Set(leases.map(\.address.value))
        return subnet.taskAddresses.lazy.first { !taken.contains($0) }.map(IPv4Address.init)
    }

    func save() throws(NetworkError) {
        var text = subnet.map { "subnet \($0)\n" } ?? ""
        for lease in leases {
            text += "\(lease.address) \(lease.containerID) \(lease.groups.isEmpty ? "-" : lease.groups.joined(separator: ",")) \(lease.interface)\n"
        }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(step: "writing \(temporary)", errno: errno) }
        let written = text.withCString { write(fd, $0, strlen($0)) }
        let code = errno
        close(fd)
        guard written == text.utf8.count else { throw .system(step: "writing \(temporary)", errno: written < 0 ? code : EIO) }
        guard rename(temporary, path) == 0 else { throw .system(step: "replacing \(path)", errno: errno) }
    }
}
