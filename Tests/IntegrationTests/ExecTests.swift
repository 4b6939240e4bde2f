// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffCgroups
import SkiffSpec
import Testing

@Suite("exec")
struct ExecTests {
    func running(_ sandbox: Sandbox) -> String {
        sandbox.writeConfig()
        let id = Harness.id("exec")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        return id
    }

    /// A process of root's running `args`, as a `--process` file gives it.
    func rootProcess(_ args: [String]) -> Spec.Process {
        Spec.Process(user: .init(uid: 0, gid: 0), args: args, env: ["PATH=/bin"], cwd: "/")
    }

    /// `exec --process` of `process`, written as the bundle's process.json, with `flags`.
    func exec(_ process: Spec.Process, in id: String, of sandbox: Sandbox, flags: [String] = []) -> Harness.Result {
        let file = sandbox.bundle + "/process.json"
        #expect(FileManager.default.createFile(atPath: file, contents: Data(process.jsonValue.serializedBytes())))
        return sandbox.skiff(["exec", "--process", file] + flags + [id])
    }

    @Test func execJoinsTheContainer() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.spec.hostname = "exec-target"
        let id = running(sandbox)
        defer {
            sandbox.skiff(["delete", "--force", id])
            sandbox.expectNothingLeft(id)
        }
        let pid = try #require(sandbox.state(id)?["pid"] as? Int)
        let result = sandbox.skiff(["exec", id, "sh", "-c", "hostname; ps -o comm | grep -c sleep; readlink /proc/self/ns/net; grep Seccomp: /proc/self/status; exit 3"])
        #expect(result.status == 3, "\(result.stderr)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "exec-target")
        #expect(lines.dropFirst().first == "1")  // the container's sleep, in its pid namespace
        #expect(lines.dropFirst(2).first == (try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net")))
        #expect(lines.last == "Seccomp:\t2")
    }

    @Test func flagsOverrideTheContainersProcess() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        let id = running(sandbox)
        defer { sandbox.skiff(["delete", "--force", id]) }
        let result = sandbox.skiff([
            "exec", "-u", "1000:1001", "-g", "7", "-e", "GREETING=hi", "--cwd", "/tmp", "--cap", "CAP_CHOWN",
            id, "sh", "-c", "id -u; id -g; id -G; echo $GREETING; pwd; grep CapBnd /proc/self/status",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n").map(String.init) == ["1000", "1001", "1001 7", "hi", "/tmp", "CapBnd:\t0000000020000421"])
    }

    /// Into a pid namespace skiff-init forks, and the intermediate reports the new pid. When
    /// the intermediate was slow to (a CI run: the process's own READY came first), skiff
    /// followed the intermediate: it returned 0 while the process still ran, its output half
    /// written. Every fork's parent is held back here, so the order is the bad one each time.
    @Test func theProcessIsFollowedHoweverLateTheForkReportsIt() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        let id = running(sandbox)
        defer { sandbox.skiff(["delete", "--force", id]) }
        let result = sandbox.skiffWithSlowForks(["exec", id, "sh", "-c", "echo before; sleep 0.4; echo after; exit 3"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.output == "before\nafter")
    }

    /// What conmon and containerd's shim run: `exec --detach --pid-file`, the file then all
    /// they know of the process. With the fork's parent held back it still names the process
    /// in the pid namespace (the pid that fork returned), not the intermediate that left.
    @Test func aPidFileNamesTheProcessHoweverLateTheForkReportsIt() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        let id = running(sandbox)
        defer { sandbox.skiff(["delete", "--force", id]) }
        let pidFile = sandbox.bundle + "/exec.pid"
        let trace = sandbox.bundle + "/forks"
        let result = sandbox.skiffWithSlowForks(["exec", "--detach", "--pid-file", pidFile, id, "sleep", "0.3"], trace: trace)
        #expect(result.status == 0, "\(result.stderr)")
        let returned = try Regex(#"fork\(\) += ([0-9]+)"#)
        let forked = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").compactMap { line in
            line.firstMatch(of: returned).flatMap { $0.output[1].substring.map(String.init) }
        }
        #expect(forked.count == 1, "\(forked)")
        #expect(try String(contentsOfFile: pidFile, encoding: .utf8) == forked.first)
    }

    @Test func aProcessFileAndDetachWithAPidFile() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        let id = running(sandbox)
        defer { sandbox.skiff(["delete", "--force", id]) }
        let pidFile = sandbox.bundle + "/exec.pid"
        #expect(exec(rootProcess(["sleep", "20"]), in: id, of: sandbox, flags: ["--detach", "--pid-file", pidFile]).status == 0)
        let pid = try #require(Int(String(contentsOfFile: pidFile, encoding: .utf8)))
        let listed = sandbox.skiff(["ps", "--format", "json", id]).output
        #expect(listed.contains(String(pid)), "\(listed)")
    }

    /// execCPUAffinity: `final` is the exec'd process's affinity; with only `initial` the
    /// process gets every CPU of the cgroup back (this machine's CPUs are its cpuset's).
    @Test func execCPUAffinity() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        let id = running(sandbox)
        defer { sandbox.skiff(["delete", "--force", id]) }
        let all = try #require(
            try String(contentsOfFile: "/proc/self/status", encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        for (affinity, expected) in [(Spec.CPUAffinity(initial: "0", final: "0"), "Cpus_allowed_list:\t0"), (Spec.CPUAffinity(initial: "0"), String(all))] {
            var process = rootProcess(["grep", "Cpus_allowed_list", "/proc/self/status"])
            process.execCPUAffinity = affinity
            let result = exec(process, in: id, of: sandbox)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.output == expected)
        }
    }

    /// An exec'd process runs in the container's personality, with its own scheduler and I/O
    /// priority (from its process.json), as runc's exec does.
    @Test func execTakesThePersonalityAndItsOwnScheduling() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.spec.linux?.personality = .init(domain: "LINUX32")
        let id = running(sandbox)
        defer { sandbox.skiff(["delete", "--force", id]) }
        var process = rootProcess(["sh", "-c", "uname -m; cut -d' ' -f19,41 /proc/self/stat; ionice; true"])
        process.scheduler = .init(policy: "SCHED_IDLE")
        process.ioPriority = .init(class: "IOPRIO_CLASS_IDLE", priority: 0)
        let result = exec(process, in: id, of: sandbox)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n") == ["i686", "0 5", "idle"])
    }

    @Test func execIntoASubCgroup() throws {
        let sandbox = Sandbox(args: ["sleep", "30"])
        let id = running(sandbox)
        defer { sandbox.skiff(["delete", "--force", id]) }
        let cgroup = ContainerCgroup.plan(cgroupsPath: nil, id: id, system: .current())
        let missing = sandbox.skiff(["exec", "--cgroup", "side", id, "true"])
        #expect(missing.stderr.contains("--cgroup: ") && missing.stderr.contains("does not exist"), "\(missing.stderr)")
        for directory in cgroup.directories {
            mkdir(directory.path + "/side", 0o755)
            // A new v1 cpuset starts with no cpus or mems and takes no tasks until given some.
            for file in ["cpuset.cpus", "cpuset.mems"] {
                if let value = try? String(contentsOfFile: directory.path + "/" + file, encoding: .utf8) {
                    try? value.write(toFile: directory.path + "/side/" + file, atomically: false, encoding: .utf8)
                }
            }
        }
        let result = sandbox.skiff(["exec", "--cgroup", "side", id, "cat", "/proc/self/cgroup"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("pids:/side"), "\(result.stdout)")
        #expect(sandbox.skiff(["exec", "--cgroup", "../escape", id, "true"]).stderr.contains("must be a relative path inside"))
        // delete removes the sub-cgroups with the container's own.
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
        for directory in cgroup.directories { #expect(access(directory.path, F_OK) != 0, "\(directory.path) left behind") }
    }

    @Test func exitSignalsAreReported() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        let id = running(sandbox)
        defer { sandbox.skiff(["delete", "--force", id]) }
        #expect(sandbox.skiff(["exec", id, "sh", "-c", "kill -KILL $$"]).status == 137)
    }

    @Test func badExecsAreRefused() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        let id = running(sandbox)
        defer { sandbox.skiff(["delete", "--force", id]) }
        #expect(sandbox.skiff(["exec", id, "no-such-program"]).stderr.contains("exec: \"no-such-program\": executable file not found in $PATH"))
        let badFile = sandbox.bundle + "/bad.json"
        #expect(FileManager.default.createFile(atPath: badFile, contents: Data("{\"args\": [\"sh\"],".utf8)))
        #expect(sandbox.skiff(["exec", "--process", badFile, id]).stderr.contains("--process \(badFile): line 1, column 17"))
        #expect(sandbox.skiff(["exec", "--console-socket", "/nonexistent.sock", "-t", id, "sh"]).status != 0)
        #expect(sandbox.skiff(["pause", id]).status == 0)
        #expect(sandbox.skiff(["exec", id, "true"]).stderr.contains("it is paused"))
        #expect(sandbox.skiff(["resume", id]).status == 0)
        #expect(sandbox.skiff(["kill", id, "KILL"]).status == 0)
        sandbox.waitUntilStopped(id)
        let stopped = sandbox.skiff(["exec", id, "true"])
        #expect(stopped.stderr.contains("it is stopped"), "\(stopped.stderr)")
    }
}
