// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

/// `skiff check`: the default bundle checks clean under skiff and runc, and a runtime
/// weakened in one way is caught in exactly that way.
@Suite("skiff check", .serialized)  // one check at a time: checks at once would compete for the CPU share each measures
struct CheckTests {
    /// A bundle directory holding `spec` (the default one unless changed).
    final class Bundle {
        let path = Harness.temporaryDirectory("skiff-check-bundle")
        var spec = Spec.defaultSpec(rootfs: Harness.rootfs)

        init(_ change: (inout Spec) -> Void = { _ in }) {
            change(&spec)
            #expect(FileManager.default.createFile(atPath: path + "/config.json", contents: Data(SpecLoader.encode(spec))))
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    struct Row {
        var group: String, property: String, result: String
    }

    /// Runs `skiff check <arguments>`; its result, and its pid, which names what it makes (its
    /// work directory and task, `skiff-check-PID`).
    static func runCheck(_ arguments: [String]) -> (result: Harness.Result, pid: Int32) {
        let running = Harness.start(["check"] + arguments)
        return (running.finish(), running.pid)
    }

    /// Runs `skiff check --format json`; returns the exit status, the rows and the check's pid.
    static func check(_ bundle: Bundle, _ arguments: [String] = []) -> (status: Int32, rows: [Row], stderr: String, pid: Int32) {
        let (result, pid) = runCheck(["--format", "json"] + arguments + [bundle.path])
        let json = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let rows = (json?["results"] as? [[String: Any]] ?? []).map {
            Row(group: $0["group"] as? String ?? "", property: $0["property"] as? String ?? "", result: $0["result"] as? String ?? "")
        }
        return (result.status, rows, result.stderr, pid)
    }

    static func failures(_ rows: [Row]) -> [String] { rows.filter { $0.result == "FAIL" }.map { "\($0.group): \($0.property)" } }

    /// Nothing of the checks run as `pids` is left: no work directory, no task cgroup. (Only
    /// theirs: other suites' checks may be running meanwhile.)
    static func expectNothingLeft(of pids: Int32..., sourceLocation: SourceLocation = #_sourceLocation) {
        for pid in pids {
            #expect(!FileManager.default.fileExists(atPath: "/tmp/skiff-check-\(pid)"), "a check's work directory is left", sourceLocation: sourceLocation)
            // The task's id is `skiff-check-PID`; its cgroup `skiff-skiff-check-PID` under skiff's
            // own (cgroupfs's rule for a config without cgroupsPath), at any depth.
            let cgroups = Harness.run("/usr/bin/find", ["/sys/fs/cgroup", "-maxdepth", "12", "-type", "d", "-name", "*skiff-check-\(pid)"]).stdout
            #expect(cgroups.isEmpty, "a checked task's cgroup is left: \(cgroups)", sourceLocation: sourceLocation)
        }
    }

    @Test func theDefaultBundleChecksCleanUnderSkiff() {
        let bundle = Bundle()
        let (status, rows, stderr, pid) = Self.check(bundle)
        #expect(status == 0, "\(stderr) \(Self.failures(rows))")
        #expect(rows.count > 40)
        #expect(Set(rows.map(\.group)) == ["namespaces", "identity", "privilege", "seccomp", "filesystem", "resources", "network"])
        #expect(Self.failures(rows).isEmpty)
        // The process's LSM label is reported (none asked for, so it passes with what it has).
        #expect(rows.contains { $0.group == "privilege" && $0.property == "security label" && $0.result == "PASS" }, "\(rows.map(\.property))")
        Self.expectNothingLeft(of: pid)
    }

    @Test func theDefaultBundleChecksCleanUnderRunc() throws {
        let bundle = Bundle()
        let (status, rows, stderr, pid) = Self.check(bundle, ["--runtime", "/usr/bin/runc"])
        #expect(status == 0, "\(stderr) \(Self.failures(rows))")
        #expect(Self.failures(rows).isEmpty)
        Self.expectNothingLeft(of: pid)
    }

    /// Limits are shown in the cgroup and enforced: the OOM kill, the CPU share, the pids cap.
    @Test func limitsAreEnforced() {
        let bundle = Bundle {
            // A quarter of a CPU: easy to get in full while other suites keep both cores busy.
            $0.linux?.resources = Spec.Resources(
                memory: Spec.Memory(limit: 64 << 20), cpu: Spec.CPU(quota: 25_000, period: 100_000),
                pids: Spec.Pids(limit: 20))
        }
        let (status, rows, stderr, _) = Self.check(bundle, ["--only", "resources"])
        #expect(status == 0, "\(stderr) \(Self.failures(rows))")
        let properties = Set(rows.filter { $0.result == "PASS" }.map(\.property))
        for property in ["memory limit in the cgroup", "allocating past 67108864 bytes", "CPU share of a busy loop", "forking stops at the pids limit"] {
            #expect(properties.contains(property), "\(property) did not pass")
        }
    }

    /// A mutant runtime: skiff behind a script that weakens the bundle's config one way
    /// before passing it on, as a buggy or malicious runtime would.
    static func mutant(_ name: String, _ python: String) throws -> String {
        let directory = Harness.temporaryDirectory("skiff-check-mutant")
        let path = directory + "/" + name
        let script = """
            #!/bin/sh
            # A runtime that weakens one thing: \(name).
            bundle=""
            prev=""
            for a in "$@"; do
                [ "$prev" = "--bundle" ] || [ "$prev" = "-b" ] && bundle="$a"
                prev="$a"
            done
            if [ -n "$bundle" ]; then
                python3 - "$bundle/config.json" <<'PY'
            import json, sys
            path = sys.argv[1]
            c = json.load(open(path))
            \(python)
            json.dump(c, open(path, "w"))
            PY
            fi
            exec \(Harness.skiff) "$@"
            """
        try Harness.writeScript(script, to: path)
        return path
    }

    @Test(arguments: [
        ("drop-seccomp", "c['linux'].pop('seccomp', None)", ["seccomp"], "seccomp: "),
        ("drop-masked-paths", "c['linux'].pop('maskedPaths', None)", ["filesystem"], "filesystem: masked "),
        (
            "add-cap-sys-admin", "[c['process']['capabilities'][s].append('CAP_SYS_ADMIN') for s in ('bounding', 'effective', 'permitted')]",
            ["privilege"], "privilege: "
        ),
        ("writable-root", "c['root']['readonly'] = False", ["filesystem"], "filesystem: root filesystem"),
        (
            "drop-pid-namespace", "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'pid']",
            ["namespaces", "filesystem"], "namespaces: pid namespace"
        ),
    ])
    func aWeakenedRuntimeIsCaught(name: String, mutation: String, groups: [String], mustFail: String) throws {
        let bundle = Bundle()
        let runtime = try Self.mutant(name, mutation)
        defer { try? FileManager.default.removeItem(atPath: (runtime as NSString).deletingLastPathComponent) }
        let (status, rows, stderr, pid) = Self.check(bundle, ["--runtime", runtime])
        let failures = Self.failures(rows)
        #expect(status == 1, "\(stderr)")
        #expect(failures.contains { $0.hasPrefix(mustFail) }, "\(name): \(failures)")
        // Only what the mutation weakened fails; everything else still holds.
        #expect(failures.allSatisfy { failure in groups.contains { failure.hasPrefix($0 + ": ") } }, "\(name): \(failures)")
        if name == "drop-pid-namespace" {
            // Sharing the host's pid namespace also puts the runtime's own binary in reach.
            #expect(failures.allSatisfy { $0 == "namespaces: pid namespace" || $0.hasPrefix("filesystem: a host runtime binary") }, "\(failures)")
        }
        Self.expectNothingLeft(of: pid)
    }

    @Test func aRuntimeThatDropsTheMemoryLimitIsCaught() throws {
        let bundle = Bundle { $0.linux?.resources = Spec.Resources(memory: Spec.Memory(limit: 64 << 20)) }
        let runtime = try Self.mutant("drop-memory-limit", "c['linux']['resources'].pop('memory', None)")
        defer { try? FileManager.default.removeItem(atPath: (runtime as NSString).deletingLastPathComponent) }
        let (status, rows, _, _) = Self.check(bundle, ["--runtime", runtime])
        #expect(status == 1)
        #expect(Set(Self.failures(rows)) == ["resources: memory limit in the cgroup", "resources: allocating past 67108864 bytes"])
    }

    /// A peer whose connect fails at once (no route: the default bundle's network namespace has
    /// only a loopback that is down) is unreachable, not untestable.
    @Test func aPeerWithNoRouteIsUnreachable() throws {
        let bundle = Bundle()
        let policy = bundle.path + "/policy.yaml"
        try "unreachable: [\"tcp:10.0.0.1:80\"]\n".write(toFile: policy, atomically: true, encoding: .utf8)
        let (status, rows, stderr, _) = Self.check(bundle, ["--only", "network", "--policy", policy])
        #expect(status == 0, "\(stderr) \(Self.failures(rows))")
        #expect(rows.contains { $0.property == "tcp:10.0.0.1:80 (policy)" && $0.result == "PASS" }, "\(rows.map(\.property))")
    }

    /// A config without /proc and a directory of its own there whose `self/status` claims no
    /// capabilities: the probe refuses to report it as the kernel's, and the check fails
    /// (status 2, one line) instead of passing a policy on the image's word.
    @Test func aProcThatIsNotProcfsIsRefused() throws {
        let fake = Harness.temporaryDirectory("skiff-check-fake-proc")
        defer { try? FileManager.default.removeItem(atPath: fake) }
        try FileManager.default.createDirectory(atPath: fake + "/self", withIntermediateDirectories: true)
        try "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\n"
            .write(toFile: fake + "/self/status", atomically: true, encoding: .utf8)
        let bundle = Bundle {
            $0.mounts = ($0.mounts ?? []).filter { $0.destination != "/proc" } + [.init(destination: "/proc", type: "bind", source: fake, options: ["rbind", "ro"])]
        }
        let policy = bundle.path + "/policy.yaml"
        try "forbiddenCapabilities: [CAP_SYS_ADMIN]\n".write(toFile: policy, atomically: true, encoding: .utf8)
        let (result, pid) = Self.runCheck(["--policy", policy, bundle.path])
        #expect(result.status == 2, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("skiff-probe: /proc is not procfs"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        Self.expectNothingLeft(of: pid)
    }

    @Test func aPolicyThatForbidsWhatTheConfigGrantsFails() throws {
        let bundle = Bundle()
        let policy = bundle.path + "/policy.yaml"
        try """
        # Stricter than the default bundle.
        forbiddenCapabilities: [CAP_NET_BIND_SERVICE]
        deniedSyscalls:
          - ptrace
          - kcmp
        readonlyRoot: true
        maxMemory: 33554432
        """.write(toFile: policy, atomically: true, encoding: .utf8)
        let (status, rows, stderr, _) = Self.check(bundle, ["--policy", policy])
        #expect(status == 1, "\(stderr)")
        #expect(
            Set(Self.failures(rows)) == [
                "privilege: no CAP_NET_BIND_SERVICE (policy)", "seccomp: ptrace(2) denied (policy)",
                "resources: memory limit at most 33554432 (policy)", "resources: allocating past 33554432 bytes",
            ])
        #expect(rows.contains { $0.property == "kcmp(2) denied" && $0.result == "PASS" })
        #expect(rows.contains { $0.property == "root filesystem (policy)" && $0.result == "PASS" })
    }

    @Test(arguments: [
        ("{\"forbiddenCapabilities\": [\"CAP_SYS_ADMIN\"],\n \"deniedSyscalls\": [ptrace]}", "policy.json: line 2, column"),
        ("{\"readOnlyRoot\": true}", "policy.json: unknown key \"readOnlyRoot\""),
        ("readonlyRoot: true\n  indented: 1\n", "policy.json: line 2: expected \"key: value\""),
        ("forbiddenCapabilities: [CAP_SYS_WIZARD]\n", "policy.json: line 1: forbiddenCapabilities: unknown capability \"CAP_SYS_WIZARD\""),
        ("unreachable: [10.0.0.1]\n", "policy.json: line 1: unreachable: \"10.0.0.1\" is not tcp:ADDRESS:PORT"),
    ])
    func aBadPolicyIsAClearError(text: String, message: String) throws {
        let bundle = Bundle()
        try text.write(toFile: bundle.path + "/policy.json", atomically: true, encoding: .utf8)
        let (result, pid) = Self.runCheck(["--policy", bundle.path + "/policy.json", bundle.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        Self.expectNothingLeft(of: pid)
    }

    @Test func badInputEndsTheCheckWithStatus2() throws {
        let bundle = Bundle()
        let broken = Bundle()
        try "{\"ociVersion\": \"1.2.0\", \"process\": {\"args\": 7}}".write(toFile: broken.path + "/config.json", atomically: true, encoding: .utf8)
        let cases = [
            (["--runtime", "/nonexistent/runc", bundle.path], "--runtime /nonexistent/runc: No such file or directory"),
            (["--runtime", "/bin/true", bundle.path], "not a runc-compatible runtime"),
            (["--only", "vibes", bundle.path], "--only: unknown group \"vibes\""),
            ([broken.path], "config.json: process."),
        ]
        for (arguments, message) in cases {
            let (result, pid) = Self.runCheck(arguments)
            #expect(result.status == 2 && result.stderr.contains(message), "\(result.stderr)")
            Self.expectNothingLeft(of: pid)
        }
    }

    /// Ctrl-C while the task runs: the task is deleted and the check ends with status 2.
    @Test func anInterruptedCheckDeletesItsTask() throws {
        let bundle = Bundle { $0.linux?.resources = Spec.Resources(cpu: Spec.CPU(quota: 50_000, period: 100_000)) }
        let running = Harness.start(["check", "--only", "resources", bundle.path])
        usleep(700_000)  // inside the two-second CPU measurement
        kill(running.pid, SIGINT)
        let result = running.finish()
        #expect(result.status == 2)
        #expect(result.stderr.contains("interrupted"), "\(result.stderr)")
        Self.expectNothingLeft(of: running.pid)
    }
}
