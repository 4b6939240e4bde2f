// SPDX-License-Identifier: Apache-2.0
import Glibc

/// Deletes links on a thread of its own: the kernel makes a veth's deletion wait for RCU
/// grace periods (15-35 ms here), and that wait then overlaps the caller's other teardown
/// (killing the task, removing its cgroup, the nf_tables wait) instead of adding to it.
///
/// `grace`: milliseconds in which a link may go by itself first. An exited task's
/// namespace is on the kernel's cleanup list, veth included, and deleting the veth at the
/// same time only slows both; one still there after the grace is held by something (a
/// joined container, a TCP connection still closing) and is deleted.

final class LinkRemoval: @unchecked Sendable {
    // Touched by the thread until `wait` joins it, by the caller after.
    private var links: RouteNetlink
    private let names: [String]
    private let grace: Int
    private var failure: NetworkError?
    private var thread: pthread_t?

    init(links: consuming RouteNetlink, names: [String], grace: Int) {
        self.links = links
        self.names = names
        self.grace = grace
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let started = pthread_create(
            &thread, nil,
            { context in
                let removal = Unmanaged<LinkRemoval>.fromOpaque(context!).takeRetainedValue()
                removal.run()
                return nil
            }, context)
        if started == 0 {
            self.thread = thread
        } else {
            Unmanaged<LinkRemoval>.fromOpaque(context).release()
            run()  // no thread to be had: do it here
        }
    }

    private func run() {
        do throws(NetworkError) {
            for name in names {
                var waited = 0
                while waited < grace, try links.index(of: name) != nil {
                    usleep(1000)
                    waited += 1
                }
                try links.deleteLink(name)
            }
        } catch { failure = error }
    }

    /// Waits for the deletions; throws the first failure.
    func wait() throws(NetworkError) {
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
        if let failure { throw failure }
    }
}
