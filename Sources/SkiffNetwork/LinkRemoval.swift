// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc

/// Deletes links without making the caller wait for the kernel to free them.
///
/// A veth's RTM_DELLINK takes effect at once — the link is unlisted, its name free, its
/// RTM_DELLINK event sent, about 0.7 ms here — and then the syscall waits in the kernel's
/// `netdev_run_todo` for an RCU barrier before it answers (16-35 ms here). So each request is
/// sent by a detached helper process (`skiff_netlink_request_detached`: a grandchild in a
/// session of its own, holding nothing of the caller's but the sockets it is given), and the
/// caller waits only for the link's RTM_DELLINK event: when `wait` returns, the link is gone
/// from the node. The helper exits once the kernel has answered and this value is gone.
///
/// The helpers also hold the sockets in `holding`, whose last close waits for the kernel: an
/// nf_tables socket whose transaction deleted rules or elements closes only after the
/// kernel's destruction of them (`nft_rcv_nl_event` flushes that work: an RCU grace period,
/// 7-17 ms here). The caller closes its own copies before this value goes, so the helpers'
/// are the last; with no link to delete, a helper is started only to hold them.
struct LinkRemoval: ~Copyable {
    private struct Pending {
        let index: Int32
        let name: String
        /// The read end of the helper's report pipe, closed by `readReport` or `deinit`.
        let report: Int32
    }

    /// Subscribed to the node's link events before any request is sent, so none is missed;
    /// nil when there is no link to delete.
    private let events: NetlinkSocket?
    /// Its descriptor, or -1 (which poll skips) without one, which is only when no link is
    /// pending. (An optional non-copyable value cannot be looked into without consuming it.)
    private let eventsDescriptor: Int32
    private var links: RouteNetlink
    private var pending: [Pending]
    /// The write end of the pipe the helpers read to its end before they exit: closed (by
    /// `deinit`) once the caller's own copies of the held sockets are closed.
    private let release: Int32

    /// Starts the deletion of every link in `names` that exists, in the node `namespace`
    /// refers to (nil: this thread's); `links` is an rtnetlink socket of that node.
    init(links: consuming RouteNetlink, names: [String], namespace: Int32?, holding: [Int32] = []) throws(NetworkError) {
        var links = links
        // One deleted between this look and its request is reported gone (ENODEV) by its helper.
        var found: [(name: String, index: Int32)] = []
        for name in names {
            if let index = try links.index(of: name) { found.append((name, index)) }
        }
        var events: NetlinkSocket? = nil
        var eventsDescriptor: Int32 = -1
        if !found.isEmpty {
            let socket = try NetlinkSocket(protocol: NETLINK_ROUTE, namespace: namespace, groups: UInt32(RTMGRP_LINK))
            // A busy node sends many link events; room for them, or the wait falls back to asking.
            NetlinkSocket.reserve(SO_RCVBUFFORCE, SO_RCVBUF, bytes: 1 << 20, on: socket.fd)
            eventsDescriptor = socket.fd
            events = consume socket
        }
        var pending: [Pending] = []
        var release: [Int32] = [-1, -1]
        guard skiff_pipe_cloexec(&release) == 0 else { throw .system(step: "removing \(names.joined(separator: ", "))", errno: errno, detail: "making a pipe") }
        defer { close(release[0]) }
        do throws(NetworkError) {
            for (name, index) in found {
                if let report = try Self.startDeletion(ofLink: index, name: name, namespace: namespace, release: release[0], holding: holding) {
                    pending.append(Pending(index: index, name: name, report: report))
                } else {
                    // No helper to be had (out of processes): deleted here, waiting as the kernel does.
                    try links.deleteLink(name)
                }
            }
        } catch {
            for item in pending { close(item.report) }
            close(release[1])
            throw error
        }
        if pending.isEmpty, !holding.isEmpty {
            // Nothing to delete (an exited task's namespace took its veth along): a helper
            // only to close the held sockets last. Without one, the caller closes them itself.
            _ = holding.withUnsafeBufferPointer {
                skiff_netlink_request_detached(-1, nil, 0, -1, release[0], $0.baseAddress, Int32($0.count))
            }
        }
        self.events = events
        self.eventsDescriptor = eventsDescriptor
        self.links = links
        self.pending = pending
        self.release = release[1]
    }

    /// Hands the deletion of link `index` to a detached helper, on a socket of the helper's
    /// own (its acknowledgement must not meet the caller's). Returns the read end of the
    /// helper's report pipe, or nil if no helper could be started.
    private static func startDeletion(
        ofLink index: Int32, name: String, namespace: Int32?, release: Int32, holding: [Int32]
    ) throws(NetworkError) -> Int32? {
        var helper = try RouteNetlink(namespace: namespace)
        let request = helper.socket.prepare([RouteNetlink.deletion(ofLink: index)])
        var ends: [Int32] = [-1, -1]
        guard skiff_pipe_cloexec(&ends) == 0 else { throw .system(step: "removing \(name)", errno: errno, detail: "making a pipe") }
        let started = request.datagram.withUnsafeBytes { datagram in
            holding.withUnsafeBufferPointer { held in
                skiff_netlink_request_detached(
                    helper.socket.fd, datagram.baseAddress, datagram.count, ends[1], release, held.baseAddress, Int32(held.count))
            }
        }
        close(ends[1])
        guard started == 0 else {
            close(ends[0])
            return nil
        }
        return ends[0]
    }

    /// Waits until every link is gone from the node; throws the first failure.
    consuming func wait() throws(NetworkError) {
        let deadline = Self.now() + 10_000
        while !pending.isEmpty {
            var descriptors = [pollfd(fd: eventsDescriptor, events: Int16(POLLIN), revents: 0)]
            descriptors += pending.map { pollfd(fd: $0.report, events: Int16(POLLIN), revents: 0) }
            let left = deadline - Self.now()
            guard left > 0 else {
                throw .system(step: "removing \(pending.map(\.name).joined(separator: ", "))", errno: ETIMEDOUT, detail: "waiting for the kernel")
            }
            if poll(&descriptors, nfds_t(descriptors.count), Int32(left)) < 0 {
                if errno == EINTR { continue }
                throw .system(step: "removing \(pending.map(\.name).joined(separator: ", "))", errno: errno, detail: "waiting for the kernel")
            }
            let answered = descriptors.dropFirst().filter { $0.revents != 0 }.map(\.fd)
            if descriptors[0].revents != 0 { try readEvents() }
            for report in answered { try readReport(report) }
        }
    }

    /// Drops every pending link whose RTM_DELLINK event has come. Events lost to a full
    /// buffer (ENOBUFS) are made up for by asking the kernel which links are still there.
    private mutating func readEvents() throws(NetworkError) {
        let messages: [NetlinkReply]
        do throws(NetworkError) { messages = try events?.pendingMessages(step: "removing links") ?? [] } catch {
            guard error.errno == ENOBUFS else { throw error }
            for item in pending.reversed() {
                if try links.name(ofLink: item.index) != item.name { forget(item.index) }
            }
            return
        }
        for message in messages where message.type == UInt16(RTM_DELLINK) && message.payload.count >= 8 {
            forget(message.int32(at: 4))
        }
    }

    /// The answer of the helper whose report pipe is `report`, if its link is still awaited:
    /// done, or the kernel's error. A helper that died without one (killed) leaves the link to
    /// be deleted here, if it is still there.
    private mutating func readReport(_ report: Int32) throws(NetworkError) {
        guard let offset = pending.firstIndex(where: { $0.report == report }) else { return }
        let item = pending.remove(at: offset)
        defer { close(item.report) }
        var answer: Int32 = 0
        let n = read(item.report, &answer, MemoryLayout<Int32>.size)
        if n == MemoryLayout<Int32>.size {
            guard answer == 0 || answer == ENODEV else { throw .system(step: "removing \(item.name)", errno: answer) }
        } else if try links.name(ofLink: item.index) == item.name {
            try links.deleteLink(item.name)
        }
    }

    /// A link gone from the node: its helper's report is no longer awaited.
    private mutating func forget(_ index: Int32) {
        for item in pending where item.index == index { close(item.report) }
        pending.removeAll { $0.index == index }
    }

    deinit {
        for item in pending { close(item.report) }
        close(release)
    }

    private static func now() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return time.tv_sec * 1000 + time.tv_nsec / 1_000_000
    }
}
