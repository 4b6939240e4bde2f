// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffCgroups
import SkiffSpec
import Testing

@Suite("resources: the task's own cgroup, with limits")
struct ResourceTests {
    @Test func limitsLandInTheContainersCgroup() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.spec.linux?.resources = .init(memory: .init(limit: 64 << 20), cpu: .init(quota: 20_000, period: 100_000), pids: .init(limit: 12))
        sandbox.writeConfig()
        let id = Harness.id("limits")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        defer { sandbox.skiff(["delete", "--force", id]) }
        let pid = try #require(sandbox.state(id)?["pid"] as? Int)
        let system = CgroupSystem.current()
        let cgroup = ContainerCgroup.plan(cgroupsPath: nil, id: id, system: system)
        func read(_ controller: String, _ v2: String, _ v1: String) -> String {
            let directory = cgroup.directory(for: controller)!
            let file = directory.path + "/" + (directory.version == .v2 ? v2 : v1)
            return ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(read("memory", "memory.max", "memory.limit_in_bytes") == String(64 << 20))
        #expect(read("pids", "pids.max", "pids.max") == "12")
        if cgroup.directory(for: "cpu")?.version == .v2 {
            #expect(read("cpu", "cpu.max", "") == "20000 100000")
        } else {
            #expect(read("cpu", "", "cpu.cfs_quota_us") == "20000")
            #expect(read("cpu", "", "cpu.cfs_period_us") == "100000")
        }
        // The process is in every one of its cgroups.
        let procCgroup = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
        for line in procCgroup.split(separator: "\n") where line.contains("memory") || line.contains("pids") || line.hasPrefix("0::") {
            #expect(line.hasSuffix("skiff-\(id)"), "\(line)")
        }
    }

    /// In its cgroup namespace a container's /sys/fs/cgroup shows its own cgroups as the roots
    /// (on a hybrid host, each v1 hierarchy is its own directory bound, not a fresh mount:
    /// the view is the same), with its limit, and nothing of its siblings.
    @Test func theContainersCgroupViewIsItsOwnCgroupAtTheRoot() throws {
        let system = CgroupSystem.current()
        guard let memory = system.participating().first(where: { $0.controllers.contains("memory") }), memory.version == .v1 else { return }
        let script = """
            cat /sys/fs/cgroup/memory/memory.limit_in_bytes
            grep ':memory:' /proc/self/cgroup
            grep ' /sys/fs/cgroup/memory ' /proc/self/mountinfo | cut -d' ' -f4
            ls /sys/fs/cgroup/memory | grep -c '^skiff-' || true
            """
        let sandbox = Sandbox(args: ["sh", "-c", script])
        sandbox.spec.linux?.resources = .init(memory: .init(limit: 48 << 20))
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines == [String(48 << 20), lines.count > 1 ? lines[1] : "", "/", "0"], "\(result.stdout)")
        #expect(lines.count > 1 && lines[1].hasSuffix(":memory:/"), "\(result.stdout)")
    }

    @Test func relativeCgroupsPathNestsUnderSkiffsOwnCgroup() throws {
        let system = CgroupSystem.current()
        let planned = ContainerCgroup.plan(cgroupsPath: "group/ctr", id: "x", system: system)
        for (directory, hierarchy) in zip(planned.directories, system.participating()) {
            let own = hierarchy.ownPath == "/" ? "" : hierarchy.ownPath
            #expect(directory.path == hierarchy.mountPoint + own + "/group/ctr")
        }
        let absolute = ContainerCgroup.plan(cgroupsPath: "/default/ctr", id: "x", system: system)
        for (directory, hierarchy) in zip(absolute.directories, system.participating()) {
            #expect(directory.path == hierarchy.mountPoint + "/default/ctr")
        }
    }

    @Test func thePidsLimitIsEnforced() {
        // Count the background processes that could be started: sh plus three fill the
        // limit of four, and the shell gives up at the fourth fork.
        let sandbox = Sandbox(args: ["sh", "-c", "i=0; while [ $i -lt 8 ]; do sleep 5 & i=$((i+1)); echo $i; done"])
        sandbox.spec.linux?.resources = .init(pids: .init(limit: 4))
        let result = sandbox.run()
        #expect(result.output.split(separator: "\n").last == "3", "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("can't fork"))
    }

    @Test func badCgroupsPathIsRejectedBeforeAnythingIsMade() {
        let sandbox = Sandbox()
        sandbox.spec.linux?.cgroupsPath = "/../escape"
        sandbox.writeConfig()
        let id = Harness.id("cgpath")
        let result = sandbox.skiff(["create", "-b", sandbox.bundle, id])
        #expect(result.status != 0)
        #expect(result.stderr.contains("linux.cgroupsPath"))
        sandbox.expectNothingLeft(id)
    }
}
