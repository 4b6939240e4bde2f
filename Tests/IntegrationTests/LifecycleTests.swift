// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@Suite("lifecycle: create, start, state, kill, delete, list")
struct LifecycleTests {
    @Test func createStartKillStateDelete() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        let id = Harness.id("life")
        let pidFile = sandbox.bundle + "/pid"
        let created = sandbox.skiff(["create", "--bundle", sandbox.bundle, "--pid-file", pidFile, id])
        #expect(created.status == 0, "\(created.stderr)")

        var state = try #require(sandbox.state(id))
        #expect(state["status"] as? String == "created")
        #expect(state["ociVersion"] as? String == "1.3.0")
        #expect(state["bundle"] as? String == sandbox.bundle)
        let pid = try #require(state["pid"] as? Int)
        // The pid file holds the bare number: containerd cannot parse a trailing newline.
        #expect(try String(contentsOfFile: pidFile, encoding: .utf8) == String(pid))
        // Created: the process waits, it has not exec'd the container's program yet.
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        #expect(!exe.hasSuffix("busybox"))

        #expect(sandbox.skiff(["start", id]).status == 0)
        state = try #require(sandbox.state(id))
        #expect(state["status"] as? String == "running")
        Harness.waitFor(seconds: 10, every: 0.01) { ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? "").hasSuffix("busybox") }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe").hasSuffix("busybox"))

        let list = sandbox.skiff(["list", "--format", "json"])
        let entries = try #require(try JSONSerialization.jsonObject(with: list.stdout.data(using: .utf8)!) as? [[String: Any]])
        #expect(entries.contains { $0["id"] as? String == id && $0["status"] as? String == "running" })
        #expect(sandbox.skiff(["list"]).stdout.contains(id))

        #expect(sandbox.skiff(["kill", id, "KILL"]).status == 0)
        sandbox.waitUntilStopped(id)
        #expect(sandbox.status(id) == "stopped")

        #expect(sandbox.skiff(["delete", id]).status == 0)
        sandbox.expectNothingLeft(id)
        #expect(sandbox.skiff(["state", id]).status != 0)
    }

    @Test func deleteOfACreatedContainerRemovesIt() {
        let sandbox = Sandbox(args: ["true"])
        sandbox.writeConfig()
        let id = Harness.id("created-delete")
        #expect(sandbox.skiff(["create", "-b", sandbox.bundle, id]).status == 0)
        #expect(sandbox.skiff(["delete", id]).status == 0)
        sandbox.expectNothingLeft(id)
    }

    @Test func killAllSignalsEveryProcessInTheCgroup() throws {
        let sandbox = Sandbox(args: ["sh", "-c", "sleep 30 & sleep 30 & wait"])
        sandbox.writeConfig()
        let id = Harness.id("killall")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        #expect(sandbox.skiff(["kill", "--all", id, "9"]).status == 0)
        sandbox.waitUntilStopped(id)
        #expect(sandbox.status(id) == "stopped")
        // As under runc: a stopped container's init cannot be signalled, in words containerd's
        // shims recognise, but `kill --all` (how containerd deletes every exited task) succeeds.
        let late = sandbox.skiff(["kill", id, "9"])
        #expect(late.status != 0 && late.stderr.contains("container not running"), "\(late.stderr)")
        #expect(sandbox.skiff(["kill", "--all", id, "9"]).status == 0)
        #expect(sandbox.skiff(["delete", id]).status == 0)
        sandbox.expectNothingLeft(id)
    }

    /// `ps` of a container whose process has exited lists nothing and succeeds, as runc's
    /// does (containerd's shim asks of any task); of one that does not exist it fails.
    @Test func psOfAStoppedContainerListsNothing() {
        let sandbox = Sandbox(args: ["true"])
        sandbox.writeConfig()
        let id = Harness.id("ps-stopped")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        defer { sandbox.skiff(["delete", "--force", id]) }
        #expect(sandbox.waitUntilStopped(id))
        let json = sandbox.skiff(["ps", "--format", "json", id])
        #expect(json.status == 0 && json.output == "[]", "\(json.stdout)\(json.stderr)")
        let table = sandbox.skiff(["ps", id])
        #expect(table.status == 0 && table.output == "PID     PPID    CMD", "\(table.stdout)\(table.stderr)")
        #expect(sandbox.skiff(["ps", "no-such-container"]).status != 0)
    }

    /// A created container can be paused (runc allows it): it reads as paused, `start` is
    /// refused until `resume` makes it created again; `kill 0` checks it is there.
    @Test func aCreatedContainerPausedAndResumed() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        let id = Harness.id("created-paused")
        #expect(sandbox.skiff(["create", "-b", sandbox.bundle, id]).status == 0)
        defer { sandbox.skiff(["delete", "--force", id]) }
        #expect(sandbox.skiff(["pause", id]).status == 0)
        #expect(sandbox.status(id) == "paused")
        let start = sandbox.skiff(["start", id])
        #expect(start.status != 0 && start.stderr.contains("it is paused"), "\(start.stderr)")
        #expect(sandbox.skiff(["resume", id]).status == 0)
        #expect(sandbox.status(id) == "created")
        #expect(sandbox.skiff(["kill", id, "0"]).status == 0)
        #expect(sandbox.skiff(["start", id]).status == 0)
        #expect(sandbox.status(id) == "running")
        #expect(sandbox.skiff(["kill", id, "KILL"]).status == 0)
        #expect(sandbox.waitUntilStopped(id))
        #expect(sandbox.skiff(["kill", id, "0"]).status != 0)
    }

    /// SIGKILL ends a paused container (it is thawed for the signal, as runc does); another
    /// signal waits, like the container, for `resume`.
    @Test func killOfAPausedContainer() throws {
        let sandbox = Sandbox(args: ["sh", "-c", "trap 'echo got-term; exit 3' TERM; while true; do sleep 0.1; done"])
        sandbox.writeConfig()
        for signal in ["TERM", "KILL"] {
            let id = Harness.id("paused-\(signal.lowercased())")
            #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
            defer { sandbox.skiff(["delete", "--force", id]) }
            // Paused before its trap is set, the shell would never see the TERM.
            #expect(sandbox.waitUntilCatching(SIGTERM, in: id))
            #expect(sandbox.skiff(["pause", id]).status == 0)
            #expect(sandbox.skiff(["kill", id, signal]).status == 0)
            let stopped = sandbox.waitUntilStopped(id, seconds: signal == "KILL" ? 10 : 1)
            if signal == "KILL" {
                #expect(stopped, "\(String(describing: sandbox.state(id)))")
            } else {
                #expect(!stopped && sandbox.status(id) == "paused")
                #expect(sandbox.skiff(["resume", id]).status == 0)
                #expect(sandbox.waitUntilStopped(id))
            }
        }
    }

    @Test func runDetachedReturnsWhileTheProcessRuns() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        let id = Harness.id("detach")
        let result = sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(sandbox.status(id) == "running")
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
        sandbox.expectNothingLeft(id)
    }

    @Test func deleteForceOfAMissingContainerSucceeds() {
        let sandbox = Sandbox()
        #expect(sandbox.skiff(["delete", "--force", "never-existed"]).status == 0)
        let plain = sandbox.skiff(["delete", "never-existed"])
        #expect(plain.status != 0)
        #expect(plain.stderr.contains("does not exist"))
    }

    @Test func specWritesAConfigThatRuns() throws {
        let bundle = Harness.temporaryDirectory("skiff-spec")
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        #expect(Harness.skiff(["spec", "--bundle", bundle]).status == 0)
        let spec = try SpecLoader.load(bundle: bundle)
        #expect(spec.process?.args == ["sh"])
        #expect(spec.root?.path == "rootfs")
        // A second spec refuses to overwrite.
        #expect(Harness.skiff(["spec", "--bundle", bundle]).status != 0)
        try FileManager.default.createSymbolicLink(atPath: bundle + "/rootfs", withDestinationPath: Harness.rootfs)
        let root = Harness.temporaryDirectory("skiff-root")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = Harness.skiff(["--root", root, "run", "-b", bundle, Harness.id("spec")], stdin: "echo hi from $(hostname)\n")
        #expect(result.output == "hi from skiff", "\(result.stderr)")
    }

    @Test func versionNamesTheSpec() {
        let result = Harness.skiff(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("skiff version"))
        #expect(result.stdout.contains("spec: 1.3.0"))
    }

    /// The global options runc's callers pass (go-runc writes --rootless=BOOL when told to,
    /// and --criu with a path) are taken before or after the command; a bad --rootless is
    /// one line.
    @Test func runcsGlobalOptionsAreAccepted() {
        let sandbox = Sandbox(args: ["true"])
        sandbox.writeConfig()
        let id = Harness.id("runc-options")
        let run = Harness.skiff(["--rootless=false", "--criu", "/usr/sbin/criu", "--root", sandbox.root, "run", "-b", sandbox.bundle, id, "--rootless", "auto"])
        #expect(run.status == 0, "\(run.stderr)")
        sandbox.expectNothingLeft(id)
        let bad = Harness.skiff(["--rootless", "maybe", "--root", sandbox.root, "list"])
        #expect(bad.status != 0)
        #expect(bad.stderr == "skiff: --rootless: expected true, false or auto, got \"maybe\"\n", "\(bad.stderr)")
    }

    @Test func errorsAreLoggedAsJSONLinesWithLogFormatJSON() throws {
        let sandbox = Sandbox()
        let log = sandbox.bundle + "/log.json"
        let result = Harness.skiff(["--root", sandbox.root, "--log", log, "--log-format", "json", "start", "nope"])
        #expect(result.status != 0)
        let line = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        let object = try #require(try JSONSerialization.jsonObject(with: line.data(using: .utf8)!) as? [String: String])
        #expect(object["level"] == "error")
        #expect(object["msg"]?.contains("\"nope\" does not exist") == true)
        #expect(object["time"] != nil)
    }

    @Test func theDefaultStateRootIsRunSkiff() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        let id = Harness.id("default-root")
        #expect(Harness.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        #expect(FileManager.default.fileExists(atPath: "/run/skiff/\(id)/state.json"))
        #expect(Harness.skiff(["delete", "--force", id]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: "/run/skiff/\(id)"))
    }
}
