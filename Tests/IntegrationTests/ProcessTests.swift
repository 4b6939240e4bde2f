// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@Suite("the container process: args, env, cwd, user, limits, exit status, signals")
struct ProcessTests {
    @Test func argsAndEnvReachTheProcess() {
        let sandbox = Sandbox(args: ["sh", "-c", "echo \"$GREETING\" \"$1\"", "sh", "second arg"])
        sandbox.spec.process?.env = ["PATH=/bin:/usr/bin", "GREETING=hello"]
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output == "hello second arg")
    }

    @Test func stdinIsPassedThrough() {
        let sandbox = Sandbox(args: ["cat"])
        let result = sandbox.run(stdin: "through the container\n")
        #expect(result.output == "through the container")
    }

    @Test func cwdIsSetAndCreatedWhenMissing() {
        let sandbox = Sandbox(args: ["pwd"])
        sandbox.spec.root?.readonly = false
        sandbox.spec.mounts?.append(.init(destination: "/home", type: "tmpfs", source: "tmpfs"))
        sandbox.spec.process?.cwd = "/home/made/by/skiff"
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output == "/home/made/by/skiff")
    }

    @Test func userGroupsAndUmask() {
        let sandbox = Sandbox(args: ["sh", "-c", "id -u; id -g; id -G; umask"])
        sandbox.spec.process?.user = .init(uid: 1000, gid: 1001, umask: 0o027, additionalGids: [10, 20])
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines == ["1000", "1001", "1001 10 20", "0027"])
    }

    @Test func rlimitsApply() {
        let sandbox = Sandbox(args: ["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -c"])
        sandbox.spec.process?.rlimits = [.init(type: "RLIMIT_NOFILE", hard: 200, soft: 123), .init(type: "RLIMIT_CORE", hard: 0, soft: 0)]
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n") == ["123", "200", "0"])
    }

    /// process.scheduler, process.ioPriority and linux.personality reach the process and its
    /// children (/proc/self/stat: nice is field 19, the policy 41; busybox's ionice; uname).
    @Test func schedulerIOPriorityAndPersonalityApply() {
        let sandbox = Sandbox(args: ["sh", "-c", "cut -d' ' -f19,41 /proc/self/stat; ionice; uname -m"])
        sandbox.spec.process?.scheduler = .init(policy: "SCHED_BATCH", nice: 7)
        sandbox.spec.process?.ioPriority = .init(class: "IOPRIO_CLASS_BE", priority: 6)
        sandbox.spec.linux?.personality = .init(domain: "LINUX32")
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n") == ["7 3", "best-effort: prio 6", "i686"])
    }

    /// A real-time policy with its priority (field 40), and SCHED_FLAG_RESET_ON_FORK: the
    /// process keeps SCHED_FIFO, its children start as SCHED_OTHER. This host's kernel budgets
    /// real-time time per cgroup (cpu.rt_runtime_us, 0 in a new one): the container's cgroup
    /// gets some, or the kernel refuses the policy, which create reports with what is needed.
    @Test func aRealTimePolicyAndItsFlags() {
        let sandbox = Sandbox(args: ["sh", "-c", "cut -d' ' -f40,41 /proc/$$/stat; cut -d' ' -f40,41 /proc/self/stat; true"])
        sandbox.spec.process?.scheduler = .init(policy: "SCHED_FIFO", priority: 5, flags: ["SCHED_FLAG_RESET_ON_FORK"])
        let budgeted = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cpu/cpu.rt_runtime_us")
        if budgeted {
            sandbox.writeConfig()
            sandbox.expectCreateFails(
                "setting the scheduler (process.scheduler): policy 1, priority 5, nice 0 (a real-time policy needs "
                    + "linux.resources.cpu.realtimeRuntime where cgroups budget it): Operation not permitted", oneLine: true)
            var cpu = Spec.CPU()
            cpu.realtimeRuntime = 10_000
            cpu.realtimePeriod = 1_000_000
            sandbox.spec.linux?.resources = Spec.Resources(cpu: cpu)
        }
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n") == ["5 1", "0 0"])
    }

    /// A policy the kernel refuses (SCHED_DEADLINE whose runtime exceeds its deadline) fails
    /// create with one line naming the field, and leaves nothing.
    @Test func aSchedulerTheKernelRefusesFailsCreate() {
        let sandbox = Sandbox(args: ["true"])
        sandbox.spec.process?.scheduler = .init(policy: "SCHED_DEADLINE", runtime: 20_000_000, deadline: 10_000_000, period: 30_000_000)
        sandbox.writeConfig()
        sandbox.expectCreateFails("setting the scheduler (process.scheduler)", oneLine: true)
    }

    @Test func capabilitiesAndNoNewPrivileges() {
        let sandbox = Sandbox(args: ["grep", "-E", "^(CapBnd|CapEff|NoNewPrivs)", "/proc/self/status"])
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29)
        #expect(result.stdout.contains("CapBnd:\t0000000020000420"))
        #expect(result.stdout.contains("CapEff:\t0000000020000420"))
        #expect(result.stdout.contains("NoNewPrivs:\t1"))
    }

    @Test func sysctlsDomainnameAndOOMScoreAdjust() {
        let sandbox = Sandbox(args: ["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname /proc/self/oom_score_adj"])
        sandbox.spec.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
        sandbox.spec.domainname = "tasks.example"
        sandbox.spec.process?.oomScoreAdj = 123
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n") == ["1", "tasks.example", "123"])
    }

    @Test func aSysctlThatDoesNotExistIsAStepError() {
        let sandbox = Sandbox()
        sandbox.spec.linux?.sysctl = ["net.ipv4.no_such_knob": "1"]
        let id = Harness.id("sysctl")
        let result = sandbox.run(id)
        #expect(result.status != 0)
        #expect(result.stderr.contains("setting sysctl net.ipv4.no_such_knob"))
        sandbox.expectNothingLeft(id)
    }

    /// /proc/keys lists the keys a process may see: with its own session keyring, named after
    /// the container (as runc does), it sees that one; with --no-new-keyring, it does not.
    @Test func theContainerGetsItsOwnSessionKeyringUnlessNoNewKeyring() {
        let id = Harness.id("keyring")
        let sandbox = Sandbox(args: ["sh", "-c", "grep -c \(id) /proc/keys || true"])
        sandbox.spec.linux?.maskedPaths = []
        sandbox.writeConfig()
        let own = sandbox.skiff(["run", "-b", sandbox.bundle, id])
        #expect(own.status == 0, "\(own.stderr)")
        #expect(own.output == "1")
        let other = Harness.id("keyring")
        let keeping = Sandbox(args: ["sh", "-c", "grep -c \(other) /proc/keys || true"])
        keeping.spec.linux?.maskedPaths = []
        keeping.writeConfig()
        let inherited = keeping.skiff(["run", "--no-new-keyring", "-b", keeping.bundle, other])
        #expect(inherited.output == "0", "\(inherited.stderr)")
    }

    @Test func exitStatusIsTheContainers() {
        let sandbox = Sandbox(args: ["sh", "-c", "exit 7"])
        #expect(sandbox.run().status == 7)
    }

    @Test func aSignalledContainerExitsWith128PlusTheSignal() {
        let sandbox = Sandbox(args: ["sh", "-c", "kill -KILL $$"])
        // pid 1 of a pid namespace cannot SIGKILL itself; a child can.
        sandbox.spec.process?.args = ["sh", "-c", "sh -c 'kill -KILL $$'; exit $?"]
        #expect(sandbox.run().status == 137)
    }

    @Test func runForwardsSignalsToTheContainer() throws {
        let sandbox = Sandbox(args: ["sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done"])
        sandbox.writeConfig()
        let running = Harness.start(["--root", sandbox.root, "run", "-b", sandbox.bundle, Harness.id("fwd")])
        // Wait for the trap to be set (the process prints "ready").
        Harness.waitFor(seconds: 10, every: 0.01) { ((try? String(contentsOfFile: running.out, encoding: .utf8)) ?? "").contains("ready") }
        kill(running.pid, SIGTERM)
        let result = running.finish()
        #expect(result.status == 42, "\(result.stderr)")
    }

    @Test func preservedDescriptorsArePassedAndOthersAreNot() throws {
        let sandbox = Sandbox(args: ["sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"])
        sandbox.writeConfig()
        // Run through sh so fd 3 and 7 are open in skiff: only 3 is preserved.
        let script = "exec 3</etc/hostname 7</etc/hostname; exec \(Harness.skiff) --root \(sandbox.root) run --preserve-fds 1 -b \(sandbox.bundle) \(Harness.id("fds"))"
        let result = Harness.run("/bin/sh", ["-c", script])
        let output = result.stdout
        #expect(result.status == 0)
        // 0 1 2, the preserved 3, and the fd of `ls` reading the directory.
        let fds = output.split(separator: " ").compactMap { Int($0) }
        #expect(fds.contains(3))
        #expect(!fds.contains(7))
        #expect(fds.count == 5, "\(output)")
    }
}

@Suite("capabilities")
struct CapabilityTests {
    /// All five sets, kept across the switch to uid 1000 through the ambient set.
    @Test func allFiveSetsAsANonRootUser() {
        let sandbox = Sandbox(args: ["sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status; timeout 1 nc -l -p 80; echo rc=$?"])
        let one = ["CAP_NET_BIND_SERVICE"]
        sandbox.spec.process?.user = .init(uid: 1000, gid: 1000)
        sandbox.spec.process?.capabilities = .init(
            bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"], effective: one,
            inheritable: one, permitted: one, ambient: one)
        let result = sandbox.run()
        #expect(result.stdout.contains("CapInh:\t0000000000000400"), "\(result.stdout)")
        #expect(result.stdout.contains("CapPrm:\t0000000000000400"))
        #expect(result.stdout.contains("CapEff:\t0000000000000400"))
        #expect(result.stdout.contains("CapBnd:\t0000000000000421"))
        #expect(result.stdout.contains("CapAmb:\t0000000000000400"))
        // uid 1000 may bind port 80 only through CAP_NET_BIND_SERVICE: nc waits until timeout kills it.
        #expect(result.stdout.contains("rc=143"), "\(result.stdout) \(result.stderr)")
    }

    @Test func withoutTheCapabilityTheBindFails() {
        let sandbox = Sandbox(args: ["sh", "-c", "timeout 1 nc -l -p 80; echo rc=$?"])
        sandbox.spec.process?.user = .init(uid: 1000, gid: 1000)
        sandbox.spec.process?.capabilities = .init(bounding: ["CAP_KILL"], effective: [], permitted: [])
        let result = sandbox.run()
        #expect(result.stdout.contains("rc=1"), "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("Permission denied"))
    }
}
