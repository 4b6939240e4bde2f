// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@Suite("hooks")
struct HookTests {
    /// A hook that saves its stdin (the state) and the mount namespace it ran in.
    static func recorder(_ directory: String, _ name: String) -> Spec.Hook {
        .init(path: "/bin/sh", args: ["sh", "-c", "cat > \(directory)/\(name).json; readlink /proc/self/ns/mnt > \(directory)/\(name).mnt"])
    }

    func status(_ directory: String, _ name: String) throws -> String? {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name).json"))
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["status"] as? String
    }

    @Test func everyHookRunsAtItsPointWithTheState() throws {
        let log = Harness.temporaryDirectory("skiff-hooks")
        defer { try? FileManager.default.removeItem(atPath: log) }
        let sandbox = Sandbox(args: ["true"])
        sandbox.spec.mounts?.append(.init(destination: "/srv", type: "bind", source: log, options: ["rbind"]))
        sandbox.spec.hooks = .init(
            prestart: [Self.recorder(log, "prestart")], createRuntime: [Self.recorder(log, "createRuntime")],
            createContainer: [Self.recorder(log, "createContainer")],
            // In the container, after pivot_root: its own /bin/sh, and the bind mount.
            startContainer: [.init(path: "/bin/sh", args: ["sh", "-c", "cat > /srv/startContainer.json"])],
            poststart: [Self.recorder(log, "poststart")], poststop: [Self.recorder(log, "poststop")])
        sandbox.writeConfig()
        let id = Harness.id("hooks")
        let created = sandbox.skiff(["create", "-b", sandbox.bundle, id])
        #expect(created.status == 0, "\(created.stderr)")
        // The runtime environment exists when these run (lifecycle steps 3 to 5): created, as
        // crun sends and runtime-tools' validation expects.
        #expect(try status(log, "prestart") == "created")
        #expect(try status(log, "createRuntime") == "created")
        #expect(try status(log, "createContainer") == "created")
        #expect(!FileManager.default.fileExists(atPath: log + "/startContainer.json"))
        #expect(sandbox.skiff(["start", id]).status == 0)
        #expect(try status(log, "poststart") == "running")
        Harness.waitFor(seconds: 10, every: 0.01) { FileManager.default.fileExists(atPath: log + "/startContainer.json") }
        #expect(try status(log, "startContainer") == "created")
        sandbox.waitUntilStopped(id)
        #expect(sandbox.skiff(["delete", id]).status == 0)
        #expect(try status(log, "poststop") == "stopped")
        // Runtime hooks in the runtime's mount namespace, createContainer in the container's.
        let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")
        func namespace(_ name: String) throws -> String {
            try String(contentsOfFile: "\(log)/\(name).mnt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try namespace("createRuntime") == host)
        #expect(try namespace("poststop") == host)
        #expect(try namespace("createContainer") != host)
        // The state names the container.
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: log + "/createRuntime.json"))) as? [String: Any]
        #expect(state?["id"] as? String == id)
        #expect((state?["pid"] as? Int ?? 0) > 0)
    }

    @Test func failingHooksStopTheContainerAndLeaveNothing() {
        func expectFailure(_ hooks: Spec.Hooks, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let sandbox = Sandbox(args: ["true"])
            sandbox.spec.hooks = hooks
            sandbox.writeConfig()
            sandbox.expectCreateFails(message, sourceLocation: sourceLocation)
        }
        expectFailure(.init(createRuntime: [.init(path: "/bin/false")]), "createRuntime hook /bin/false: exited with status 1")
        expectFailure(.init(createRuntime: [.init(path: "/nonexistent/hook")]), "createRuntime hook /nonexistent/hook: No such file or directory")
        expectFailure(.init(createRuntime: [.init(path: "/bin/sleep", args: ["sleep", "10"], timeout: 1)]), "createRuntime hook /bin/sleep: did not finish within 1 s")
        expectFailure(.init(createContainer: [.init(path: "/bin/false")]), "running createContainer hook /bin/false: exited with status 1")
        expectFailure(.init(createContainer: [.init(path: "/nonexistent/hook")]), "running createContainer hook /nonexistent/hook")
        expectFailure(.init(prestart: [.init(path: "relative/hook")]), "hooks.prestart[0].path: must be an absolute path")
        expectFailure(.init(poststop: [.init(path: "/bin/true", timeout: 0)]), "hooks.poststop[0].timeout: must be positive")
    }

    /// poststart runs after the user's process has been executed (runtime-spec 1.3): a
    /// startContainer hook that takes its time holds the execve back, and poststart still sees
    /// the user's program, not skiff-init.
    @Test func poststartRunsAfterTheProcessIsExecuted() throws {
        let log = Harness.temporaryDirectory("skiff-poststart")
        defer { try? FileManager.default.removeItem(atPath: log) }
        let sandbox = Sandbox(args: ["sleep", "100"])
        let comm = "import json, sys; pid = json.load(sys.stdin)['pid']; print(open('/proc/%d/comm' % pid).read().strip())"
        sandbox.spec.hooks = .init(
            startContainer: [.init(path: "/bin/sleep", args: ["sleep", "0.5"])],
            poststart: [.init(path: "/bin/sh", args: ["sh", "-c", "python3 -c \"\(comm)\" > \(log)/poststart.comm"])])
        sandbox.writeConfig()
        let id = Harness.id("poststart")
        #expect(sandbox.skiff(["create", "-b", sandbox.bundle, id]).status == 0)
        let started = sandbox.skiff(["start", id])
        #expect(started.status == 0, "\(started.stderr)")
        let seen = try String(contentsOfFile: log + "/poststart.comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(seen == "sleep", "poststart saw \(seen)")
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
    }

    /// A failing poststart hook is an error that stops the container (runtime-spec 1.3,
    /// lifecycle step 9): `start` fails naming the hook, the process is killed, the record
    /// stays for `delete`; `run` fails the same way and leaves nothing. poststop failures stay
    /// warnings.
    @Test func aFailingPoststartHookStopsTheContainer() {
        let sandbox = Sandbox(args: ["sleep", "100"])
        sandbox.spec.hooks = .init(poststart: [.init(path: "/bin/false"), .init(path: "/bin/true")], poststop: [.init(path: "/bin/false")])
        sandbox.writeConfig()
        let id = Harness.id("poststart-fails")
        #expect(sandbox.skiff(["create", "-b", sandbox.bundle, id]).status == 0)
        let started = sandbox.skiff(["start", id])
        #expect(started.status != 0)
        #expect(started.stderr.contains("poststart hook /bin/false: exited with status 1 (the container is stopped)"), "\(started.stderr)")
        #expect(started.stderr.split(separator: "\n").count == 1, "\(started.stderr)")
        #expect(sandbox.waitUntilStopped(id))
        let deleted = sandbox.skiff(["delete", id])
        #expect(deleted.status == 0 && deleted.stderr.contains("warning: poststop hook /bin/false: exited with status 1"), "\(deleted.stderr)")
        sandbox.expectNothingLeft(id)

        let runID = Harness.id("poststart-run")
        let run = sandbox.skiff(["run", "-b", sandbox.bundle, runID])
        #expect(run.status != 0)
        #expect(run.stderr.contains("poststart hook /bin/false: exited with status 1 (the container is stopped)"), "\(run.stderr)")
        sandbox.expectNothingLeft(runID)
        let detachedID = Harness.id("poststart-detached")
        let detached = sandbox.skiff(["run", "--detach", "-b", sandbox.bundle, detachedID])
        #expect(detached.status != 0, "\(detached.stderr)")
        sandbox.expectNothingLeft(detachedID)
    }
}
