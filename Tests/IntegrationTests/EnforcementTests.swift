// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffCgroups
import SkiffSpec
import Testing

/// The resource checks of vm/checks.sh, on this host's own cgroups (the v1 fallback on a
/// hybrid host), read back through the kernel's counters.
@Suite("resource enforcement on this host")
struct EnforcementTests {
    static let gate = "while [ ! -e /tmp/go ]; do sleep 0.05; done;"

    func sandbox(_ script: String) -> Sandbox {
        let sandbox = Sandbox(args: ["sh", "-c", script])
        sandbox.spec.root?.readonly = false
        sandbox.spec.mounts?.append(.init(destination: "/tmp", type: "tmpfs", source: "tmpfs"))
        return sandbox
    }

    func detach(_ sandbox: Sandbox, _ id: String) throws -> (pid: Int, output: Harness.Running) {
        sandbox.writeConfig()
        let running = Harness.start(["--root", sandbox.root, "run", "-d", "-b", sandbox.bundle, id])
        let result = running.finish()
        #expect(result.status == 0, "\(result.stderr)")
        let pid = try #require(sandbox.state(id)?["pid"] as? Int)
        return (pid, running)
    }

    func cgroup(_ id: String) -> ContainerCgroup { ContainerCgroup.plan(cgroupsPath: nil, id: id, system: .current()) }

    @Test func memoryHogIsOOMKilledAndCounted() throws {
        let out = Harness.temporaryDirectory("skiff-out")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let sandbox = sandbox("\(Self.gate) dd if=/dev/zero of=/dev/null bs=100M count=1; echo dd=$? > /out/result; sleep 60")
        sandbox.spec.mounts?.append(.init(destination: "/out", type: "bind", source: out, options: ["rbind"]))
        sandbox.spec.linux?.resources = .init(memory: .init(limit: 32 << 20))
        let id = Harness.id("oom")
        let (pid, _) = try detach(sandbox, id)
        defer {
            sandbox.skiff(["delete", "--force", id])
            sandbox.expectNothingLeft(id)
        }
        let events = Harness.start(["--root", sandbox.root, "events", "--interval", "100ms", id])
        usleep(300_000)
        #expect(FileManager.default.createFile(atPath: "/proc/\(pid)/root/tmp/go", contents: nil))
        #expect(Harness.waitFor(seconds: 10) { FileManager.default.fileExists(atPath: out + "/result") })
        #expect(try String(contentsOfFile: out + "/result", encoding: .utf8).contains("dd=137"))
        let stats = CgroupfsDriver().stats(cgroup(id))
        #expect(stats.memory.oomKills >= 1)
        #expect(stats.memory.max >= 25 << 20 && stats.memory.max <= 32 << 20, "peak \(stats.memory.max)")
        let json = sandbox.skiff(["stats", "--format", "json", id]).stdout
        #expect(json.contains("\"oomKills\": \(stats.memory.oomKills)"))
        #expect(Harness.waitFor(seconds: 10) { ((try? String(contentsOfFile: events.out, encoding: .utf8)) ?? "").contains("\"type\":\"oom\"") }, "events saw no OOM")
        // SIGKILL: the test runner ignores SIGTERM, and its children inherit that.
        kill(events.pid, SIGKILL)
        _ = events.finish()
    }

    /// (The limit catches a container that never stops spinning, not slowness: in `make test`
    /// the VM tiers and the CRI scenarios hold test threads for minutes, and this test's
    /// processes can wait their turn that long.)
    @Test(.timeLimit(.minutes(3))) func cpuQuotaGivesTwentyPercent() throws {
        let sandbox = sandbox("while :; do :; done")
        sandbox.spec.linux?.resources = .init(cpu: .init(quota: 20_000, period: 100_000))
        let id = Harness.id("cpu")
        _ = try detach(sandbox, id)
        defer {
            sandbox.skiff(["delete", "--force", id])
            sandbox.expectNothingLeft(id)
        }
        let before = CgroupfsDriver().stats(cgroup(id)).cpu
        usleep(3_000_000)
        let after = CgroupfsDriver().stats(cgroup(id)).cpu
        let used = Double(after.total - before.total) / 1e9
        #expect(used >= 0.51 && used <= 0.69, "used \(used) s of CPU in 3 s")
        #expect(after.throttledPeriods > before.throttledPeriods)
    }

    /// Two processes spinning on one CPU each wait half the time: the kernel counts it as cpu
    /// pressure of the container's (unified) cgroup, and `events --stats` and `stats` report
    /// it as runc's types have it (memory's and I/O's too, here zero or near it).
    @Test func pressureStallsAreReported() throws {
        let sandbox = sandbox("while :; do :; done & while :; do :; done")
        sandbox.spec.linux?.resources = .init(cpu: .init(cpus: "0"))
        let id = Harness.id("psi")
        _ = try detach(sandbox, id)
        defer {
            sandbox.skiff(["delete", "--force", id])
            sandbox.expectNothingLeft(id)
        }
        usleep(1_500_000)
        let event = sandbox.skiff(["events", "--stats", id])
        let data = try #require((try JSONSerialization.jsonObject(with: Data(event.stdout.utf8)) as? [String: Any])?["data"] as? [String: Any])
        func psi(_ resource: String) -> [String: [String: Any]]? { (data[resource] as? [String: Any])?["psi"] as? [String: [String: Any]] }
        let cpuWaited = try #require(psi("cpu")?["some"]?["total"] as? Int, "\(event.stdout)")
        #expect(cpuWaited > 100_000, "the two spinners waited \(cpuWaited) µs")
        #expect(psi("cpu")?["some"]?["avg10"] is Double || psi("cpu")?["some"]?["avg10"] is Int)
        #expect(psi("memory")?["full"]?["total"] is Int)
        #expect(psi("blkio")?["some"]?["total"] is Int)
        let stats = sandbox.skiff(["stats", "--format", "json", id]).stdout
        let pressure = try #require((try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any])?["pressure"] as? [String: [String: [String: Any]]])
        #expect((pressure["cpu"]?["some"]?["total"] as? Int ?? 0) >= cpuWaited)
        #expect(Set(pressure.keys) == ["cpu", "memory", "io"])
        let table = sandbox.skiff(["stats", id]).stdout
        #expect(table.contains("CPU stall") && table.contains("limit unlimited"), "\(table)")
    }

    @Test func deniedDevicesCannotBeOpenedEvenWithMknod() {
        let caps = ["CAP_KILL", "CAP_MKNOD", "CAP_DAC_OVERRIDE"]
        let denied = sandbox("mknod /tmp/kmsg c 1 11 && echo hello > /tmp/kmsg && echo opened; head -c 1 /dev/zero > /dev/null && echo zero-ok")
        denied.spec.process?.capabilities = .init(bounding: caps, effective: caps, permitted: caps)
        denied.spec.linux?.resources = .init(devices: [.init(allow: false, access: "rwm")])
        let result = denied.run()
        #expect(!result.stdout.contains("opened"))
        #expect(result.stderr.contains("Operation not permitted"))
        #expect(result.stdout.contains("zero-ok"))
        let allowed = sandbox("mknod /tmp/kmsg c 1 11 && echo hello > /tmp/kmsg && echo opened")
        allowed.spec.process?.capabilities = .init(bounding: caps, effective: caps, permitted: caps)
        allowed.spec.linux?.resources = .init(devices: [.init(allow: false, access: "rwm"), .init(allow: true, type: "c", major: 1, minor: 11, access: "w")])
        #expect(allowed.run().stdout.contains("opened"))
    }

    @Test func updateRaisesTheMemoryLimitAndTheHogSurvives() throws {
        let out = Harness.temporaryDirectory("skiff-out")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let sandbox = sandbox("\(Self.gate) dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$? > /out/result; sleep 60")
        sandbox.spec.mounts?.append(.init(destination: "/out", type: "bind", source: out, options: ["rbind"]))
        sandbox.spec.linux?.resources = .init(memory: .init(limit: 32 << 20))
        let id = Harness.id("update")
        let (pid, _) = try detach(sandbox, id)
        defer {
            sandbox.skiff(["delete", "--force", id])
            sandbox.expectNothingLeft(id)
        }
        let update = sandbox.skiff(["update", "--memory", "256m", "--pids-limit", "50", id])
        #expect(update.status == 0, "\(update.stderr)")
        #expect(CgroupfsDriver().stats(cgroup(id)).memory.limit == 256 << 20)
        #expect(CgroupfsDriver().stats(cgroup(id)).pids.limit == 50)
        #expect(FileManager.default.createFile(atPath: "/proc/\(pid)/root/tmp/go", contents: nil))
        #expect(Harness.waitFor(seconds: 10) { FileManager.default.fileExists(atPath: out + "/result") })
        #expect(try String(contentsOfFile: out + "/result", encoding: .utf8).contains("dd=0"))
        // --resources - : the OCI LinuxResources JSON on stdin, as containerd sends it.
        // containerd's CRI sends the whole resources, devices included (deny all, with the
        // standard devices allowed at create): as under runc, update leaves device rules alone.
        let json = #"{"memory": {"limit": 134217728}, "cpu": {"quota": 50000, "period": 100000}, "devices": [{"allow": false, "access": "rwm"}]}"#
        #expect(sandbox.skiff(["update", "--resources", "-", id], stdin: json).status == 0)
        #expect(CgroupfsDriver().stats(cgroup(id)).memory.limit == 128 << 20)
        let null = sandbox.skiff(["exec", id, "sh", "-c", "echo kept > /dev/null && cat /dev/zero | head -c 1 | wc -c"])
        #expect(null.status == 0 && null.output == "1", "\(null.stderr)")
    }

    @Test func pauseFreezesAndResumeThaws() throws {
        let sandbox = sandbox("while :; do echo x >> /tmp/count; done")
        let id = Harness.id("pause")
        let (pid, _) = try detach(sandbox, id)
        defer {
            sandbox.skiff(["delete", "--force", id])
            sandbox.expectNothingLeft(id)
        }
        let counter = "/proc/\(pid)/root/tmp/count"
        func size() -> Int { ((try? FileManager.default.attributesOfItem(atPath: counter))?[.size] as? Int) ?? -1 }
        usleep(300_000)
        #expect(sandbox.skiff(["pause", id]).status == 0)
        #expect(sandbox.status(id) == "paused")
        let a = size()
        usleep(300_000)
        #expect(size() == a, "the counter moved while paused")
        #expect(sandbox.skiff(["pause", id]).stderr.contains("it is paused"))
        #expect(sandbox.skiff(["resume", id]).status == 0)
        #expect(Harness.waitFor(seconds: 10) { size() > a }, "the counter did not move after resume")
        #expect(sandbox.status(id) == "running")
        // delete --force of a paused container works too.
        #expect(sandbox.skiff(["pause", id]).status == 0)
    }

    @Test func psListsTheContainersProcesses() throws {
        let sandbox = sandbox("sleep 60 & sleep 60")
        let id = Harness.id("ps")
        let (pid, _) = try detach(sandbox, id)
        defer { sandbox.skiff(["delete", "--force", id]) }
        #expect(Harness.waitFor(seconds: 10) { (sandbox.skiff(["ps", "--format", "json", id]).output.split(separator: ",").count) == 2 })
        #expect(sandbox.skiff(["ps", "--format", "json", id]).output.contains(String(pid)))
        #expect(sandbox.skiff(["ps", id]).stdout.contains("sleep 60"))
    }

    @Test func badResourcesAreRejectedAndLeaveNothing() {
        func expectRejected(_ configure: (Sandbox) -> Void, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
            Sandbox.expectCreateFails(configuring: configure, message, sourceLocation: sourceLocation)
        }
        // (0 means "not set", as in runc: Docker's configs say 0 for every field they leave alone.)
        expectRejected({ $0.spec.linux?.resources = .init(cpu: .init(quota: -7)) }, "linux.resources.cpu.quota: must be positive")
        expectRejected({ $0.spec.linux?.resources = .init(cpu: .init(shares: 1)) }, "linux.resources.cpu.shares: must be between 2 and 262144")
        expectRejected({ $0.spec.linux?.resources = .init(cpu: .init(shares: 262_145)) }, "linux.resources.cpu.shares: must be between 2 and 262144")
        expectRejected({ $0.spec.linux?.resources = .init(memory: .init(reservation: -2)) }, "linux.resources.memory.reservation: must be positive")
        expectRejected({ $0.spec.linux?.resources = .init(memory: .init(limit: 64 << 20, swap: 32 << 20)) }, "linux.resources.memory.swap: must be at least memory.limit")
        expectRejected({ $0.spec.linux?.resources = .init(cpu: .init(cpus: "0-4000")) }, "linux.resources.cpu.cpus: CPU")
        expectRejected(
            {
                $0.spec.linux?.resources = Spec.Resources()
                $0.spec.linux?.resources?.unified = ["../x": "1"]
            }, "linux.resources.unified.../x: not a cgroup file name")
        expectRejected(
            {
                $0.spec.linux?.resources = Spec.Resources()
                $0.spec.linux?.resources?.unified = ["a/b": "1"]
            }, "linux.resources.unified.a/b: not a cgroup file name")
        expectRejected(
            {
                $0.spec.linux?.resources = Spec.Resources()
                $0.spec.linux?.resources?.unified = ["hugetlb.bogus": "1"]
            }, "linux.resources.unified.hugetlb.bogus")
    }

    @Test func updateOfAStoppedContainerIsRefused() {
        let sandbox = Sandbox(args: ["true"])
        sandbox.writeConfig()
        let id = Harness.id("upd-stopped")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        sandbox.waitUntilStopped(id, seconds: 10)
        let result = sandbox.skiff(["update", "--memory", "64m", id])
        #expect(result.status != 0)
        #expect(result.stderr.contains("cannot update container \"\(id)\": container not running (it is stopped)"))
        let bad = sandbox.skiff(["update", "--memory", "lots", id])
        #expect(bad.stderr.contains("--memory: \"lots\" is not a size"))
        #expect(sandbox.skiff(["delete", id]).status == 0)
        sandbox.expectNothingLeft(id)
    }
}
