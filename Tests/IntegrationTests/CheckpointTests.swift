// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// `checkpoint` and `restore` on this host, whose kernel CRIU refuses (its vDSO check): the
/// refusal is CRIU's own reason in one line and changes nothing, `features` says checkpoint
/// is unavailable and why, and bad input is refused before CRIU runs. The checkpoints that
/// work are proven in the systemd VMs (vm/systemd/checkpoint.sh), whose Debian kernels
/// CRIU supports.
@Suite("checkpoint and restore (CRIU)")
struct CheckpointTests {
    /// CRIU's `check` on this kernel, as features reports it.
    static let enabled: Bool = {
        let features = Harness.skiff(["features"]).stdout
        return features.contains("\"org.opencontainers.runc.checkpoint.enabled\": \"true\"")
    }()

    @Test func featuresSaysWhetherCheckpointWorksHere() throws {
        let features = Harness.skiff(["features"])
        #expect(features.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(features.stdout.utf8)) as? [String: Any]
        let annotations = object?["annotations"] as? [String: String] ?? [:]
        let enabled = annotations["org.opencontainers.runc.checkpoint.enabled"]
        #expect(enabled == "true" || enabled == "false", "\(annotations)")
        let said = annotations["org.skiff.checkpoint"] ?? ""
        // Either CRIU's version, or why not: CRIU's own reason, or that it is not installed.
        #expect(enabled == "true" ? said.hasPrefix("criu ") : (said.hasPrefix("criu check: ") || said.contains("not installed")), "\(said)")
    }

    /// Where CRIU cannot work: one line with CRIU's reason, and the container runs on, its
    /// record and process as they were; nothing of skiff's is left in the image directory.
    @Test(.enabled(if: !enabled)) func whereCRIUCannotWorkTheContainerIsUntouched() throws {
        let sandbox = Sandbox(args: ["sleep", "100"])
        sandbox.writeConfig()
        let id = Harness.id("cpt")
        #expect(sandbox.skiff(["run", "--detach", "--bundle", sandbox.bundle, id]).status == 0)
        let pid = sandbox.state(id)?["pid"] as? Int
        let images = sandbox.bundle + "/images"
        for leaveRunning in [false, true] {
            let result = sandbox.skiff(["checkpoint", "--image-path", images] + (leaveRunning ? ["--leave-running"] : []) + [id])
            #expect(result.status != 0)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("skiff: criu: "), "\(result.stderr)")
            #expect(sandbox.status(id) == "running" && sandbox.state(id)?["pid"] as? Int == pid)
            #expect(!FileManager.default.fileExists(atPath: images + "/skiff-checkpoint.json"))
        }
        // The process was never stopped: it still answers to the container's exec.
        #expect(sandbox.skiff(["exec", id, "true"]).status == 0)
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
    }

    /// A container that joined a namespace CRIU cannot hand back (here the ipc namespace of
    /// another container) is refused before CRIU runs, in one line naming the namespace; no
    /// image directory is made, and it runs on.
    @Test func aJoinedNamespaceCRIUCannotHandBackIsRefused() throws {
        let first = Sandbox(args: ["sleep", "100"])
        first.writeConfig()
        let a = Harness.id("cpt-ns")
        #expect(first.skiff(["run", "--detach", "--bundle", first.bundle, a]).status == 0)
        defer { first.skiff(["delete", "--force", a]) }
        let pid = try #require(first.state(a)?["pid"] as? Int)
        let second = Sandbox(args: ["sleep", "100"])
        second.spec.hostname = nil  // (no uts namespace of its own)
        second.spec.linux?.namespaces = [.init(.mount), .init(.pid), .init(.ipc, path: "/proc/\(pid)/ns/ipc")]
        second.writeConfig()
        let b = Harness.id("cpt-ns")
        #expect(second.skiff(["run", "--detach", "--bundle", second.bundle, b]).status == 0)
        let images = second.bundle + "/images"
        let result = second.skiff(["checkpoint", "--image-path", images, b])
        let lines = result.stderr.split(separator: "\n")
        #expect(result.status != 0 && lines.count == 1 && result.stderr.contains("linux.namespaces") && result.stderr.contains("ipc"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: images))
        #expect(second.status(b) == "running")
        #expect(second.skiff(["delete", "--force", b]).status == 0)
    }

    /// Bad input: one line naming what is wrong, and nothing made or changed.
    @Test func badInputIsOneLineAndChangesNothing() throws {
        let sandbox = Sandbox(args: ["sleep", "100"])
        sandbox.writeConfig()
        let id = Harness.id("cpt-bad")
        #expect(sandbox.skiff(["create", "--bundle", sandbox.bundle, id]).status == 0)
        let images = sandbox.bundle + "/images"
        // A fake checkpoint: the restore reads skiff's own file and CRIU's inventory first.
        let fake = sandbox.bundle + "/fake"
        try FileManager.default.createDirectory(atPath: fake, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: fake + "/inventory.img", contents: Data()))
        try #"{"descriptors": ["/dev/null", "/dev/null", "/dev/null"], "terminal": false}"#.write(
            toFile: fake + "/skiff-checkpoint.json", atomically: true, encoding: .utf8)
        let terminal = sandbox.bundle + "/terminal"
        try FileManager.default.createDirectory(atPath: terminal, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: terminal + "/inventory.img", contents: Data()))
        try #"{"descriptors": [], "terminal": true}"#.write(toFile: terminal + "/skiff-checkpoint.json", atomically: true, encoding: .utf8)
        let cases: [(arguments: [String], says: String)] = [
            (["checkpoint", "--image-path", images, "nobody-here"], "does not exist"),
            (["checkpoint", "--image-path", images, id], "created"),
            (["checkpoint", "--image-path", images, "--manage-cgroups-mode", "loose", id], "--manage-cgroups-mode"),
            (["checkpoint", "--image-path", images, "--empty-ns", "ipc", id], "--empty-ns"),
            (["checkpoint", "--image-path", images, "--parent-path", "/abs", id], "--parent-path"),
            (["checkpoint", "--image-path", images, "--lazy-pages", "--page-server", "no-port", id], "--page-server"),
            (["checkpoint", "--image-path", images, "--page-server", "10.0.0.1:99999", id], "--page-server"),
            (["checkpoint", "--image-path", images, "--lazy-pages", "--status-fd", "987", id], "--status-fd"),
            (["checkpoint", "--image-path", images, "--status-fd", "-3", id], "--status-fd"),
            (["checkpoint", "--image-path", images, "../bad/id"], "invalid container id"),
            (["restore", "--image-path", sandbox.bundle + "/no-such-images", "--bundle", sandbox.bundle, "r1"], "--image-path"),
            (["restore", "--image-path", sandbox.bundle, "--bundle", sandbox.bundle, "r2"], "no CRIU checkpoint"),
            (["restore", "--image-path", fake, "--bundle", sandbox.bundle, id], "already exists"),
            (["restore", "--image-path", fake, "--bundle", sandbox.bundle + "/no-bundle", "r3"], "bundle"),
            // A terminal's restore needs somewhere to send its new pty master; a task without
            // one has no use for a console socket.
            (["restore", "--detach", "--image-path", terminal, "--bundle", sandbox.bundle, "r4"], "--console-socket"),
            (["restore", "--console-socket", sandbox.bundle + "/no.sock", "--image-path", fake, "--bundle", sandbox.bundle, "r4"], "--console-socket"),
            (["restore", "--image-path", fake, "--manage-cgroups-mode", "x", "--bundle", sandbox.bundle, "r5"], "--manage-cgroups-mode"),
            (["restore", "--image-path", fake, "--manage-cgroups-mode", "strict", "--bundle", sandbox.bundle, "r5"], "--manage-cgroups-mode: strict"),
            // containerd's runc shim (go-runc) passes -no-subreaper with one dash: parsed, so
            // the restore gets as far as the images.
            (["restore", "--detach", "-no-subreaper", "--no-pivot", "--image-path", sandbox.bundle, "--bundle", sandbox.bundle, "r6"], "no CRIU checkpoint"),
        ]
        for (arguments, says) in cases {
            let result = sandbox.skiff(arguments)
            #expect(result.status != 0, "\(arguments)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && result.stderr.contains(says), "\(arguments): \(result.stderr)")
        }
        // Nothing was made: only the created container is in the state root, still created.
        let ids = try FileManager.default.contentsOfDirectory(atPath: sandbox.root).filter { !$0.hasPrefix(".") }
        #expect(ids == [id], "\(ids)")
        #expect(sandbox.status(id) == "created")
        #expect(!FileManager.default.fileExists(atPath: images))
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
    }
}
