// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffCgroups
import Testing

@Suite("concurrency")
struct ConcurrencyTests {
    @Test func twentyContainersInParallel() {
        let sandbox = Sandbox(args: ["sh", "-c", "echo $(hostname)"])
        sandbox.writeConfig()
        let ids = (0..<20).map { Harness.id("par\($0)") }
        let running = ids.map { Harness.start(["--root", sandbox.root, "run", "-b", sandbox.bundle, $0]) }
        let results = running.map { $0.finish() }
        for (id, result) in zip(ids, results) {
            #expect(result.status == 0, "\(id): \(result.stderr)")
            #expect(result.output == "skiff")
            sandbox.expectNothingLeft(id)
        }
    }

    /// Many tasks at once below one parent cgroup skiff makes: creates on v1 hierarchies make
    /// their leaf without the hierarchy's lock, deletes remove the parent under it once the
    /// last child is gone. Every run must find its parent, and the parent must not outlive them.
    @Test func parallelTasksShareAParentSkiffMakesAndRemoves() throws {
        let parent = "/skiff-test-shared-\(UUID().uuidString.prefix(8).lowercased())"
        let ids = (0..<16).map { Harness.id("shared\($0)") }
        for round in 0..<3 {
            let sandboxes = ids.map { id -> Sandbox in
                let sandbox = Sandbox(args: ["true"])
                sandbox.spec.linux?.cgroupsPath = parent + "/" + id
                sandbox.writeConfig()
                return sandbox
            }
            let running = zip(ids, sandboxes).map { id, sandbox in Harness.start(["--root", sandbox.root, "run", "-b", sandbox.bundle, id]) }
            for (id, result) in zip(ids, running.map { $0.finish() }) {
                #expect(result.status == 0, "round \(round), \(id): \(result.stderr)")
            }
            for hierarchy in CgroupSystem.current().participating() {
                #expect(!FileManager.default.fileExists(atPath: hierarchy.mountPoint + parent), "\(hierarchy.mountPoint + parent) left")
            }
        }
    }

    /// `create` killed with SIGKILL at any instant: `delete --force` then leaves nothing
    /// (runc and crun leave cgroups behind in this test).
    @Test func createKilledAtAnyInstantLeavesNothingAfterDeleteForce() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        var outcomes: [Int32: Int] = [:]
        for round in 0..<30 {
            let id = Harness.id("crash\(round)")
            let running = Harness.start(["--root", sandbox.root, "create", "-b", sandbox.bundle, id])
            usleep(UInt32((round * 397) % 12_000))
            kill(running.pid, SIGKILL)
            let result = running.finish()
            outcomes[result.status, default: 0] += 1
            let deleted = sandbox.skiff(["delete", "--force", id])
            #expect(deleted.status == 0, "\(deleted.stderr)")
            sandbox.expectNothingLeft(id)
            // Only the note of the cgroup layout (said once per state root) may remain.
            let entries = try FileManager.default.contentsOfDirectory(atPath: sandbox.root).filter { $0 != ".cgroup-layout" && $0 != ".seccomp" }
            #expect(entries.isEmpty, "\(entries)")
        }
        // Some rounds must really have been cut short, or this test proves nothing.
        #expect((outcomes[128 + SIGKILL] ?? 0) > 0, "\(outcomes)")
    }

    @Test func theSameIDCreatedTwiceAtOnceHasExactlyOneWinner() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        for round in 0..<5 {
            let id = Harness.id("race\(round)")
            let running = (0..<2).map { _ in Harness.start(["--root", sandbox.root, "create", "-b", sandbox.bundle, id]) }
            let results = running.map { $0.finish() }
            #expect(results.filter { $0.status == 0 }.count == 1)
            #expect(results.filter { $0.stderr.contains("already exists") }.count == 1)
            #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
            sandbox.expectNothingLeft(id)
        }
    }
}
