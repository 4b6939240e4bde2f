// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSystem

/// The way a task's rules reach the kernel when skiff creates the task: the parent stages the
/// transaction (`stage`: lease, bridge, tables, the datagram written to a memfd), the task's
/// first process sends it on a netlink socket of the node (skiff-init's SEND_RULES), and the
/// parent reads the kernel's answers from its own copy of the socket (`awaitCommitted`).
///
/// Why the task sends it: nf_tables charges the kernel memory of what a transaction adds to
/// the memory cgroup of the process that sends it. Sent by skiff, 4096 rules a direction
/// cost ~4 MB of kernel memory in the caller's cgroup (a containerd shim's, kubelet's); sent
/// from inside the task's cgroup, they count against the task's own memory limit.
///
/// The bridge's lease lock is held from `stage` to `awaitCommitted` (or `close`), so the
/// transaction is applied to the sets it was computed from.
public final class TaskRulesChannel: @unchecked Sendable {  // used by one thread at a time: create's
    private var socket: NetlinkSocket
    private let batchFile: FileDescriptor
    private var batch: Int32 { batchFile.rawValue }
    private var staged: TaskNetwork.StagedRules?
    private var awaited: Set<UInt32> = []
    /// The staged task, for `connect`.
    private var task: TaskEndpoint?

    /// A netlink socket of this thread's network namespace (the node) and an empty memfd.
    public init() throws(NetworkError) {
        socket = try NetlinkSocket(protocol: NETLINK_NETFILTER)
        do { batchFile = try FileDescriptor(checking: skiff_memfd("skiff-network-rules"), step: "creating the rules' memfd") } catch {
            throw .system(error)
        }
    }

    /// The descriptors skiff-init needs: the socket and the file with the datagram.
    public var descriptors: (socket: Int32, batch: Int32) { (socket.fd, batch) }

    /// Leases the task's address and writes its transaction for the task to send.
    public func stage(_ config: NetworkConfig, owner: String, leases: String) throws(NetworkError) {
        let rules = try TaskNetwork.stage(config, owner: owner, leases: leases)
        let request = socket.prepare(rules.batch.framed)
        task = rules.task
        staged = consume rules
        let written = request.datagram.withUnsafeBytes { pwrite(batch, $0.baseAddress, $0.count, 0) }
        guard written == request.datagram.count, ftruncate(batch, off_t(request.datagram.count)) == 0 else {
            let code = written < 0 ? errno : EIO
            close()
            throw .system(step: "writing the task's rules for it to send", errno: code)
        }
        awaited = request.awaited
    }

    /// Waits for the kernel's answers to what the task sent; a refused transaction takes the
    /// lease with it. Then the bridge's lock is released.
    func awaitCommitted() throws(NetworkError) {
        guard var rules = staged.take() else { return }
        do throws(NetworkError) { _ = try socket.receive(awaited, step: rules.step) } catch {
            try rules.withdraw()
            throw error
        }
    }

    /// Gives the staged task its interface in the network namespace at `namespacePath`
    /// (`TaskNetwork.connect`), once its rules are in. Returns its address.
    @discardableResult
    public func connect(_ config: NetworkConfig, namespacePath: String) throws(NetworkError) -> IPv4Address {
        guard let task else { throw .system(step: "giving the task its interface", errno: ENOENT, detail: "no lease was staged") }
        try awaitCommitted()
        try TaskNetwork.connect(config, task: task, namespacePath: namespacePath)
        return task.address
    }

    /// Releases the bridge's lock, whatever became of the transaction (a create that failed
    /// before the task sent it, or after: its undo finds the lease).
    public func close() {
        staged = nil
    }
}
