// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

/// Every kind of bad input: a one-line error naming what is wrong, a non-zero exit, and
/// nothing left behind (no state directory, no cgroup, no mount).
@Suite("bad input")
struct BadInputTests {
    /// `create` with the sandbox's bundle as it is; expects failure mentioning `message`.
    func expectCreateFails(_ sandbox: Sandbox, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        sandbox.expectCreateFails(message, oneLine: true, sourceLocation: sourceLocation)
    }

    @Test func missingConfigJSON() {
        expectCreateFails(Sandbox(), "config.json: no such file or directory")
    }

    @Test func invalidJSONNamesLineAndColumn() {
        let sandbox = Sandbox()
        sandbox.writeRawConfig("{\n  \"ociVersion\": \"1.2.0\"\n  \"process\": {}\n}\n")
        expectCreateFails(sandbox, "config.json: line 3, column 3: expected ',' or '}'")
    }

    @Test func wrongTypeNamesThePath() {
        let sandbox = Sandbox()
        sandbox.writeRawConfig(#"{"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": "sh"}}"#)
        expectCreateFails(sandbox, "process.args: expected an array")
    }

    @Test func negativeUIDNamesThePath() {
        let sandbox = Sandbox()
        sandbox.writeRawConfig(#"{"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "process": {"cwd": "/", "user": {"uid": -1, "gid": 0}, "args": ["sh"]}}"#)
        expectCreateFails(sandbox, "process.user.uid: -1 is out of range")
    }

    @Test func emptyArgs() {
        let sandbox = Sandbox(args: [])
        sandbox.writeConfig()
        expectCreateFails(sandbox, "process.args: must not be empty")
    }

    @Test func unknownNamespace() {
        let sandbox = Sandbox()
        sandbox.spec.linux?.namespaces?.insert(.init(type: "netz"), at: 2)
        sandbox.writeConfig()
        expectCreateFails(sandbox, "linux.namespaces[2].type: unknown namespace \"netz\"")
    }

    @Test func unsupportedVersion() {
        let sandbox = Sandbox()
        sandbox.spec.ociVersion = "2.0.0"
        sandbox.writeConfig()
        expectCreateFails(sandbox, "ociVersion: unsupported version \"2.0.0\"")
    }

    @Test func unknownCapability() {
        let sandbox = Sandbox()
        sandbox.spec.process?.capabilities?.bounding = ["CAP_KILL", "CAP_BOGUS"]
        sandbox.writeConfig()
        expectCreateFails(sandbox, "process.capabilities.bounding[1]: unknown capability \"CAP_BOGUS\"")
    }

    /// Fields runc applies (scheduler, I/O priority, personality, exec CPU affinity) with
    /// values no kernel takes, and the one skiff refuses whole (intelRdt).
    @Test func badSchedulingPersonalityAndPlatformFields() {
        let cases: [(message: String, change: (Sandbox) -> Void)] = [
            ("process.scheduler.policy: unknown policy \"SCHED_FAST\"", { $0.spec.process?.scheduler = .init(policy: "SCHED_FAST") }),
            ("process.scheduler.nice: must be between -20 and 19, got 20", { $0.spec.process?.scheduler = .init(policy: "SCHED_OTHER", nice: 20) }),
            (
                "process.scheduler.priority: must be between 0 and 99, got -1",
                {
                    $0.spec.process?.scheduler = .init(policy: "SCHED_FIFO", priority: -1)
                }
            ),
            (
                "process.scheduler.flags[1]: unknown flag \"SCHED_FLAG_TURBO\"",
                {
                    $0.spec.process?.scheduler = .init(policy: "SCHED_OTHER", flags: ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_TURBO"])
                }
            ),
            ("process.ioPriority.class: unknown class \"IOPRIO_CLASS_NONE\"", { $0.spec.process?.ioPriority = .init(class: "IOPRIO_CLASS_NONE", priority: 0) }),
            ("process.ioPriority.priority: must be between 0 and 7, got 8", { $0.spec.process?.ioPriority = .init(class: "IOPRIO_CLASS_BE", priority: 8) }),
            ("process.execCPUAffinity.final: \"0-\" is not a CPU list", { $0.spec.process?.execCPUAffinity = .init(final: "0-") }),
            ("process.execCPUAffinity.initial: \"4096\" is not a CPU list", { $0.spec.process?.execCPUAffinity = .init(initial: "4096") }),
            ("linux.personality.domain: unknown domain \"BSD\"", { $0.spec.linux?.personality = .init(domain: "BSD") }),
            ("linux.personality.flags: no personality flags are supported", { $0.spec.linux?.personality = .init(domain: "LINUX", flags: ["ADDR_NO_RANDOMIZE"]) }),
            ("linux.intelRdt: Intel RDT (resctrl) is not supported", { $0.spec.linux?.intelRdt = .init(closID: "../..") }),
        ]
        for (message, change) in cases { Sandbox.expectCreateFails(configuring: change, message, oneLine: true) }
    }

    @Test func missingRootfs() {
        let sandbox = Sandbox()
        sandbox.spec.root?.path = "/nonexistent/rootfs"
        sandbox.writeConfig()
        expectCreateFails(sandbox, "root.path: /nonexistent/rootfs: No such file or directory")
    }

    @Test func missingBindSource() {
        let sandbox = Sandbox()
        sandbox.spec.mounts?.append(.init(destination: "/srv", type: "bind", source: "/nonexistent/source", options: ["rbind"]))
        sandbox.writeConfig()
        expectCreateFails(sandbox, "mounts[7].source: /nonexistent/source: No such file or directory")
    }

    /// In runc's words, which engines read for their exit codes (Docker: 127, 126).
    @Test func executableNotFound() {
        let sandbox = Sandbox(args: ["no-such-program"])
        sandbox.writeConfig()
        expectCreateFails(sandbox, "starting the container process: exec: \"no-such-program\": executable file not found in $PATH")
        let absolute = Sandbox(args: ["/bin/no-such-program"])
        absolute.writeConfig()
        expectCreateFails(absolute, "exec: \"/bin/no-such-program\": no such file or directory")
        let notExecutable = Sandbox(args: ["/etc/passwd"])
        notExecutable.writeConfig()
        expectCreateFails(notExecutable, "exec: \"/etc/passwd\": permission denied")
    }

    @Test func aFailedMountInTheContainerIsReportedWithItsStep() {
        let sandbox = Sandbox()
        sandbox.spec.mounts?.append(.init(destination: "/mnt", type: "no-such-fs", source: "none"))
        sandbox.writeConfig()
        expectCreateFails(sandbox, "mounting no-such-fs on /mnt")
    }

    @Test func duplicateID() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        let id = Harness.id("dup")
        #expect(sandbox.skiff(["create", "-b", sandbox.bundle, id]).status == 0)
        let second = sandbox.skiff(["create", "-b", sandbox.bundle, id])
        #expect(second.status != 0)
        #expect(second.stderr.contains("container \"\(id)\" already exists"))
        // The first is untouched.
        #expect(sandbox.status(id) == "created")
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
        sandbox.expectNothingLeft(id)
    }

    @Test(arguments: ["../x", "a/b", "", String(repeating: "a", count: 300), ".."])
    func invalidIDs(_ id: String) {
        let sandbox = Sandbox()
        sandbox.writeConfig()
        for command in [["create", "-b", sandbox.bundle, id], ["state", id], ["delete", "--force", id], ["start", id]] {
            let result = sandbox.skiff(command)
            #expect(result.status != 0)
            #expect(result.stderr.contains("invalid container id"), "\(command[0]): \(result.stderr)")
        }
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: sandbox.root)) ?? []).filter { $0 != ".cgroup-layout" && $0 != ".seccomp" }
        #expect(entries.isEmpty)
    }

    @Test func startOfARunningContainer() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        let id = Harness.id("restart")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        let result = sandbox.skiff(["start", id])
        #expect(result.status != 0)
        #expect(result.stderr.contains("cannot start container \"\(id)\": it is running"))
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
    }

    @Test func deleteOfARunningContainerNeedsForce() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.writeConfig()
        let id = Harness.id("busy")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        let result = sandbox.skiff(["delete", id])
        #expect(result.status != 0)
        #expect(result.stderr.contains("it is running"))
        #expect(sandbox.status(id) == "running")
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
        sandbox.expectNothingLeft(id)
    }

    @Test func killOfAStoppedContainer() {
        let sandbox = Sandbox(args: ["true"])
        sandbox.writeConfig()
        let id = Harness.id("stopped")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        sandbox.waitUntilStopped(id)
        let result = sandbox.skiff(["kill", id])
        #expect(result.status != 0)
        #expect(result.stderr.contains("it is stopped"))
        #expect(sandbox.skiff(["kill", id, "SIGNOPE"]).stderr.contains("unknown signal"))
        #expect(sandbox.skiff(["delete", id]).status == 0)
        sandbox.expectNothingLeft(id)
    }
}

/// `--systemd-cgroup` where it cannot work (this project's hosts: hybrid cgroups, no systemd
/// as PID 1): one line naming the flag, nothing left; a systemd path without the flag is named
/// too. (On a systemd host the driver is proven in vm/systemd.)
@Suite("the systemd cgroup driver where there is no systemd host")
struct SystemdDriverRefusalTests {
    @Test(
        .enabled(
            if: FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified") || !FileManager.default.fileExists(atPath: "/run/systemd/private"),
            "a host that is not systemd on pure cgroup v2"))
    func aHostThatIsNotSystemdOnPureV2IsRefused() {
        let sandbox = Sandbox(args: ["true"])
        sandbox.writeConfig()
        let id = Harness.id("systemd")
        let result = sandbox.skiff(["--systemd-cgroup", "create", "-b", sandbox.bundle, id])
        #expect(result.status != 0)
        #expect(result.stderr.hasPrefix("skiff: --systemd-cgroup: "), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        sandbox.expectNothingLeft(id)
        sandbox.spec.linux?.cgroupsPath = "system.slice:skiff:x"
        sandbox.writeConfig()
        sandbox.expectCreateFails("linux.cgroupsPath: \"system.slice:skiff:x\" is a systemd slice path: use --systemd-cgroup", oneLine: true)
    }
}
