// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffCgroups

/// What `events` reports about a container.
public enum ContainerEvent: Sendable {
    /// The kernel OOM-killed a process of the container.
    case oom
    /// Its usage, every interval.
    case stats(CgroupStats)
}

extension Runtime {
    /// Calls `handler` with an `.oom` event whenever the kernel OOM-kills in the container and
    /// with `.stats` every `interval` seconds, until the container stops or `handler` returns
    /// false. Blocks the calling thread (run it on one of your own).
    public func events(id: String, interval: Double, handler: (ContainerEvent) -> Bool) throws(RuntimeError) {
        guard interval > 0 else { throw .usage("events: the interval must be positive") }
        let cgroup = try self.cgroup(id: id)
        var oomKills = CgroupDrivers.driver(for: cgroup).stats(cgroup).memory.oomKills
        var sinceStats = interval
        let tick = min(interval, 0.1)
        while true {
            let state = try self.state(id: id)
            let current = CgroupDrivers.driver(for: cgroup).stats(cgroup)
            if current.memory.oomKills > oomKills {
                oomKills = current.memory.oomKills
                if !handler(.oom) { return }
            }
            if state.status == .stopped { return }
            if sinceStats >= interval {
                if !handler(.stats(current)) { return }
                sinceStats = 0
            }
            usleep(UInt32(tick * 1_000_000))
            sinceStats += tick
        }
    }
}
