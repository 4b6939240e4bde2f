// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffCgroups
import SkiffSpec
import Testing

/// Whatever a config says, skiff does not harm the node: it kills, writes into and removes only
/// what it made, writes no node-wide kernel setting, runs no process with more privilege than
/// the config states, and hands skiff-init nothing it would read differently. Each case is a
/// config a careless or hostile tenant could write.
@Suite("the node is never harmed")
struct NodeSafetyTests {
    static var hybridWithHugetlbOnV2: Bool {
        let system = CgroupSystem.current()
        let pages = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/mm/hugepages")) ?? []
        return !system.isPureV2 && system.unified?.controllers.contains("hugetlb") == true && !pages.isEmpty
    }

    /// A process of the test's own, in the test's own cgroups (skiff's caller's).
    final class Bystander {
        let pid: pid_t
        init() {
            var pid: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("1000"), nil]
            defer { argv.forEach { free($0) } }
            precondition(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0)
            self.pid = pid
        }
        var isAlive: Bool {
            var status: Int32 = 0
            return waitpid(pid, &status, WNOHANG) == 0
        }
        deinit {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    // MARK: cgroups

    /// A cgroup made by someone else (the test), at `path` in every hierarchy skiff uses.
    func makeCgroup(_ path: String) throws -> ContainerCgroup {
        let cgroup = ContainerCgroup.plan(cgroupsPath: path, id: "-", system: .current())
        for directory in cgroup.directories {
            #expect(mkdir(directory.path, 0o755) == 0)
            // A new v1 cpuset has no CPUs or memory nodes: it takes no process until given some.
            if directory.controllers.contains("cpuset") {
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    let parent = (directory.path as NSString).deletingLastPathComponent
                    try String(contentsOfFile: parent + "/" + file, encoding: .utf8).write(toFile: directory.path + "/" + file, atomically: false, encoding: .utf8)
                }
            }
        }
        return cgroup
    }

    /// "." and "/" resolve to the caller's cgroup and the hierarchy's root: a failed create, a
    /// delete or `kill --all` there would kill the caller or the whole node.
    @Test(arguments: [".", "/", "a/../.."])
    func cgroupsPathsThatAreNotAContainersAreRefused(_ path: String) {
        let bystander = Bystander()
        let sandbox = Sandbox(args: ["true"])
        sandbox.spec.linux?.cgroupsPath = path
        sandbox.writeConfig()
        sandbox.expectCreateFails("linux.cgroupsPath:", oneLine: true)
        #expect(bystander.isAlive)
    }

    /// The caller's own cgroup given as an absolute path.
    @Test(
        .enabled(
            if: CgroupSystem.current().participating().contains { $0.ownPath != "/" },
            "skiff's caller below a hierarchy's root (here: the memory hierarchy)"))
    func theCallersOwnCgroupIsRefused() throws {
        let own = try #require(CgroupSystem.current().participating().first { $0.ownPath != "/" })
        let bystander = Bystander()
        let sandbox = Sandbox(args: ["true"])
        sandbox.spec.linux?.cgroupsPath = own.ownPath
        sandbox.writeConfig()
        sandbox.expectCreateFails("linux.cgroupsPath: resolves to \(own.ownPath)", oneLine: true)
        #expect(bystander.isAlive)
    }

    /// A cgroup the container process cannot join (someone else's v1 cpuset without CPUs):
    /// the process joins its v1 cgroups itself, before skiff-init, by writing "0" to their
    /// `tasks`; the refused write is one line naming the file, and nothing is left — no
    /// process in those cgroups, which stay (they are not skiff's).
    @Test(
        .enabled(
            if: CgroupSystem.current().participating().contains { $0.version == .v1 && $0.controllers.contains("cpuset") },
            "a cgroup v1 cpuset hierarchy"))
    func aCgroupTheProcessCannotJoinIsOneLineAndLeavesNothing() throws {
        let path = "/skiff-no-cpus-\(UUID().uuidString.prefix(8).lowercased())"
        let cgroup = ContainerCgroup.plan(cgroupsPath: path, id: "-", system: .current())
        for directory in cgroup.directories { #expect(mkdir(directory.path, 0o755) == 0) }
        defer { for directory in cgroup.directories { rmdir(directory.path) } }
        let cpuset = try #require(cgroup.directories.first { $0.controllers.contains("cpuset") })
        let sandbox = Sandbox(args: ["true"])
        sandbox.spec.linux?.cgroupsPath = path
        sandbox.writeConfig()
        sandbox.expectCreateFails("joining the container's cgroup: \(cpuset.path)/tasks", oneLine: true)
        for directory in cgroup.directories {
            #expect(FileManager.default.fileExists(atPath: directory.path))
            #expect(try String(contentsOfFile: directory.path + "/cgroup.procs", encoding: .utf8).isEmpty)
        }
    }

    /// A cgroup that exists with a process in it (another tenant's, say): the container joins
    /// it with a warning, as runc does, but gets no limits there, and neither `kill --all` nor
    /// `delete --force` touch the process that was there, nor remove the cgroup.
    @Test func aCgroupThatIsNotTheContainersKeepsItsProcessesAndStays() throws {
        let path = "/skiff-shared-\(UUID().uuidString.prefix(8).lowercased())"
        let cgroup = try makeCgroup(path)
        let bystander = Bystander()
        for directory in cgroup.directories {
            try String(bystander.pid).write(toFile: directory.path + "/cgroup.procs", atomically: false, encoding: .utf8)
        }
        defer {
            kill(bystander.pid, SIGKILL)
            usleep(100_000)
            for directory in cgroup.directories { rmdir(directory.path) }
        }
        let sandbox = Sandbox(args: ["sleep", "1000"])
        sandbox.spec.linux?.cgroupsPath = path
        sandbox.spec.linux?.resources = .init(memory: .init(limit: 64 << 20))
        sandbox.writeConfig()
        sandbox.expectCreateFails("linux.resources.memory.limit: the cgroup \(path) already holds 1 process(es)", oneLine: true)

        sandbox.spec.linux?.resources = nil
        sandbox.writeConfig()
        let id = Harness.id("shared")
        let created = sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stderr.contains("already holds 1 process(es); the container joins it"), "\(created.stderr)")
        #expect(sandbox.skiff(["update", "--memory", "64m", id]).stderr.contains("shares the cgroup"))
        #expect(sandbox.skiff(["pause", id]).stderr.contains("shares the cgroup"))
        #expect(sandbox.skiff(["kill", "--all", id, "KILL"]).status == 0)
        #expect(sandbox.waitUntilStopped(id, seconds: 5))
        #expect(bystander.isAlive)
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
        #expect(bystander.isAlive)
        for directory in cgroup.directories {
            #expect(FileManager.default.fileExists(atPath: directory.path), "\(directory.path) was removed")
        }
    }

    /// An existing empty cgroup becomes the container's (limits and kills apply), but is not
    /// skiff's to remove.
    @Test func anEmptyCgroupThatExistedIsUsedAndLeft() throws {
        let path = "/skiff-premade-\(UUID().uuidString.prefix(8).lowercased())"
        let cgroup = try makeCgroup(path)
        defer { for directory in cgroup.directories { rmdir(directory.path) } }
        let sandbox = Sandbox(args: ["sleep", "1000"])
        sandbox.spec.linux?.cgroupsPath = path
        sandbox.spec.linux?.resources = .init(pids: .init(limit: 42))
        sandbox.writeConfig()
        let id = Harness.id("premade")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        let pids = try #require(cgroup.directory(for: "pids")).path
        #expect(try String(contentsOfFile: pids + "/pids.max", encoding: .utf8).hasPrefix("42"))
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
        #expect(FileManager.default.fileExists(atPath: pids))
        #expect((try? String(contentsOfFile: pids + "/cgroup.procs", encoding: .utf8)) == "")
    }

    /// Under `ip netns exec` (a fresh /sys) no hierarchy is visible: refused, as runc does.
    @Test func noVisibleCgroupHierarchyIsRefused() {
        let sandbox = Sandbox(args: ["true"])
        sandbox.writeConfig()
        let id = Harness.id("nocgroup")
        let namespace = "skiff-nocg-\(UUID().uuidString.prefix(8).lowercased())"
        #expect(Harness.run("/usr/bin/ip", ["netns", "add", namespace]).status == 0)
        defer { Harness.run("/usr/bin/ip", ["netns", "delete", namespace]) }
        let result = Harness.run("/usr/bin/ip", ["netns", "exec", namespace, Harness.skiff, "--root", sandbox.root, "create", "-b", sandbox.bundle, id])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no cgroup hierarchy is mounted"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        sandbox.expectNothingLeft(id)
    }

    /// On this hybrid host v2 carries only hugetlb: a container that does not limit it leaves
    /// the v2 root's subtree_control as it was; one that does turns it on in its ancestors
    /// and, once the last container below them goes, off again, and the parents skiff made go
    /// too (whichever skiff deletes that last container).
    @Test(.enabled(if: Self.hybridWithHugetlbOnV2, "a hybrid host whose v2 hierarchy carries hugetlb, with huge pages"))
    func v2AncestorsAreLeftAsFound() throws {
        let system = CgroupSystem.current()
        let unified = try #require(system.unified)
        let control = unified.mountPoint + "/cgroup.subtree_control"
        let before = try String(contentsOfFile: control, encoding: .utf8)
        let sandbox = Sandbox(args: ["true"])
        #expect(sandbox.run().status == 0)
        #expect(try String(contentsOfFile: control, encoding: .utf8) == before)
        let size = try #require((try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/mm/hugepages"))?.sorted().first)
        // hugepages-2048kB -> 2MB
        let kilobytes = Int(size.dropFirst("hugepages-".count).dropLast(2)) ?? 2048
        let pageSize = kilobytes >= 1024 * 1024 ? "\(kilobytes / 1024 / 1024)GB" : "\(kilobytes / 1024)MB"
        // Below a parent of the test's own, so that other tests' containers at the root do not
        // keep the root's controllers on while this one checks.
        let parent = "/skiff-parent-\(UUID().uuidString.prefix(8).lowercased())"
        let limited = Sandbox(args: ["sleep", "1000"])
        limited.spec.linux?.cgroupsPath = parent + "/a"
        limited.spec.linux?.resources = Spec.Resources()
        limited.spec.linux?.resources?.hugepageLimits = [.init(pageSize: pageSize, limit: 0)]
        limited.writeConfig()
        #expect(limited.skiff(["run", "-d", "-b", limited.bundle, "a"]).status == 0)
        let parentControl = unified.mountPoint + parent + "/cgroup.subtree_control"
        #expect(try String(contentsOfFile: parentControl, encoding: .utf8).contains("hugetlb"))
        // A second container below the same parent, created by another root, limits nothing.
        let other = Sandbox(args: ["sleep", "1000"])
        other.spec.linux?.cgroupsPath = parent + "/b"
        other.writeConfig()
        #expect(other.skiff(["run", "-d", "-b", other.bundle, "b"]).status == 0)
        #expect(limited.skiff(["delete", "--force", "a"]).status == 0)
        // b still lives below the parent: the controller stays on for it.
        #expect(try String(contentsOfFile: parentControl, encoding: .utf8).contains("hugetlb"))
        #expect(other.skiff(["delete", "--force", "b"]).status == 0)
        // The last one out undoes it, though it did not do it: the parent skiff made is gone
        // from every hierarchy (and with it the controller it had on).
        for hierarchy in system.participating() {
            #expect(!FileManager.default.fileExists(atPath: hierarchy.mountPoint + parent), "\(hierarchy.mountPoint + parent) is left")
        }
    }

    // MARK: identity and privilege

    /// (uid_t)-1 is "leave unchanged" to the kernel: the process would run as root.
    @Test func theUnchangedIDIsRefused() {
        for configure in [
            { (s: Sandbox) in s.spec.process?.user.uid = UInt32.max },
            { (s: Sandbox) in s.spec.process?.user.gid = UInt32.max },
            { (s: Sandbox) in s.spec.process?.user.additionalGids = [5, UInt32.max] },
        ] {
            let sandbox = Sandbox()
            configure(sandbox)
            sandbox.writeConfig()
            sandbox.expectCreateFails("is (uid_t)-1, which the kernel reads as \"leave the id unchanged\"", oneLine: true)
        }
        let sandbox = Sandbox(args: ["sleep", "1000"])
        sandbox.writeConfig()
        let id = Harness.id("exec-uid")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        let exec = sandbox.skiff(["exec", "-u", "4294967295", id, "id", "-u"])
        #expect(exec.status != 0)
        #expect(exec.stderr.contains("process.user.uid: 4294967295 is (uid_t)-1"), "\(exec.stderr)")
        #expect(sandbox.skiff(["exec", "-u", "4294967294", id, "id", "-u"]).output == "4294967294")
        sandbox.skiff(["delete", "--force", id])
    }

    /// Only sysctls namespaced for namespaces the container has to itself.
    @Test func sysctlsOfTheNodeAreRefused() {
        let cases: [(sysctl: String, dropping: Spec.NamespaceKind?, path: String?, message: String)] = [
            ("vm.swappiness", nil, nil, "linux.sysctl.vm.swappiness: is not namespaced"),
            ("kernel.panic", nil, nil, "linux.sysctl.kernel.panic: is not namespaced"),
            ("kernel.hostname", nil, nil, "linux.sysctl.kernel.hostname: set the hostname with the \"hostname\" field"),
            ("kernel.shmmax", .ipc, nil, "linux.sysctl.kernel.shmmax: needs an ipc namespace of the container's own"),
            ("fs.mqueue.msg_max", .ipc, nil, "linux.sysctl.fs.mqueue.msg_max: needs an ipc namespace"),
            ("net.ipv4.ip_forward", .network, nil, "linux.sysctl.net.ipv4.ip_forward: needs a network namespace of the container's own"),
            ("net.ipv4.ip_forward", nil, "/proc/self/ns/net", "linux.sysctl.net.ipv4.ip_forward: needs a network namespace"),
            ("kernel.domainname", .uts, nil, "linux.sysctl.kernel.domainname: needs a uts namespace"),
        ]
        for item in cases {
            let sandbox = Sandbox()
            sandbox.spec.linux?.sysctl = [item.sysctl: "1"]
            if let kind = item.dropping {
                sandbox.spec.linux?.namespaces?.removeAll { $0.kind == kind }
                if kind == .uts { sandbox.spec.hostname = nil }
            }
            if let path = item.path {
                for i in sandbox.spec.linux!.namespaces!.indices where sandbox.spec.linux!.namespaces![i].kind == .network {
                    sandbox.spec.linux!.namespaces![i].path = path
                }
            }
            sandbox.writeConfig()
            sandbox.expectCreateFails(item.message, oneLine: true)
        }
        let sandbox = Sandbox(args: ["cat", "/proc/sys/kernel/shmmni"])
        sandbox.spec.linux?.sysctl = ["kernel.shmmni": "1234"]
        #expect(sandbox.run().output == "1234")
    }

    // MARK: what reaches skiff-init

    /// A NUL inside a string would be read by the kernel as its end: `A=x\0B=y` was two variables.
    @Test func aNULInsideAnyStringIsRefused() throws {
        let sandbox = Sandbox()
        sandbox.writeConfig()
        let config = try String(contentsOfFile: sandbox.bundle + "/config.json", encoding: .utf8)
        let cases: [(String, String, String)] = [
            ("\"PATH=", "\"A=x\\u0000B=y\", \"PATH=", "process.env[0]: contains a NUL character"),
            ("\"hostname\": \"", "\"hostname\": \"a\\u0000", "hostname: contains a NUL character"),
            ("\"cwd\": \"/", "\"cwd\": \"/tmp\\u0000", "process.cwd: contains a NUL character"),
            ("\"destination\": \"/proc\"", "\"destination\": \"/proc\\u0000/x\"", "mounts[0].destination: contains a NUL character"),
        ]
        for (find, replace, message) in cases {
            #expect(config.contains(find), "\(find)")
            sandbox.writeRawConfig(config.replacingOccurrences(of: find, with: replace, options: [], range: config.range(of: find)))
            sandbox.expectCreateFails(message, oneLine: true)
        }
        sandbox.spec.annotations = ["a\u{0}b": "1"]
        sandbox.writeConfig()
        sandbox.expectCreateFails("annotations.a\\u0000b: contains a NUL character", oneLine: true)
    }

    /// Counts and sizes skiff-init has limits for are checked before anything exists (65536
    /// additional gids crashed skiff after its cgroups were made).
    @Test func hugeCountsAreRefusedUpFront() {
        Sandbox.expectCreateFails(
            configuring: { $0.spec.process?.user.additionalGids = Array(1...65536) },
            "process.user.additionalGids: too large for skiff-init's plan")
        Sandbox.expectCreateFails(
            configuring: { $0.spec.process?.user.additionalGids = Array(1...65537) },
            "process.user.additionalGids: at most 65536 groups")
        Sandbox.expectCreateFails(
            configuring: { $0.spec.process?.env = (0..<20000).map { "VARIABLE_\($0)=value" } },
            "process.args and process.env: too large for skiff-init's plan")
        Sandbox.expectCreateFails(
            configuring: { $0.spec.linux?.maskedPaths = (0...256).map { "/proc/x\($0)" } },
            "linux.maskedPaths: at most 256 paths, got 257")
        Sandbox.expectCreateFails(
            configuring: { $0.spec.hooks = .init(startContainer: Array(repeating: .init(path: "/bin/true"), count: 65)) },
            "hooks.startContainer: at most 64 hooks, got 65")
        // At the limits, it runs.
        let sandbox = Sandbox(args: ["sh", "-c", "grep Groups: /proc/self/status | wc -w"])
        sandbox.spec.process?.user.additionalGids = Array(1...2000)
        #expect(sandbox.run().output == "2001")
    }

    @Test func pathsThatLeaveTheirPlaceAreRefused() throws {
        let sandbox = Sandbox()
        sandbox.spec.linux?.devices = [.init(type: "c", path: "/dev/../skiff-escaped", major: 1, minor: 3, fileMode: 0o666)]
        sandbox.writeConfig()
        sandbox.expectCreateFails("linux.devices[0].path: must not contain \".\" or \"..\" components", oneLine: true)
        #expect(!FileManager.default.fileExists(atPath: Harness.rootfs + "/skiff-escaped"))

        let link = sandbox.bundle + "/rootlink"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/")
        let linked = Sandbox()
        linked.spec.root?.path = link
        linked.writeConfig()
        linked.expectCreateFails("root.path: \"\(link)\" resolves to /, the node's own root", oneLine: true)
    }

    /// An id is echoed in its error: control characters are shown, never sent to a terminal.
    @Test func idsWithControlCharactersAreRefusedVisibly() {
        let sandbox = Sandbox()
        sandbox.writeConfig()
        let result = sandbox.skiff(["create", "-b", sandbox.bundle, "bad\u{1b}[31mred\nx"])
        #expect(result.status != 0)
        #expect(!result.stderr.contains("\u{1b}"))
        #expect(result.stderr.contains("bad\\x1b[31mred\\x0ax"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    // MARK: state and bookkeeping

    /// A truncated, empty or garbage record does not make a container immortal.
    @Test(arguments: ["", "{\"ociVersion\": \"1.2.0\", \"id\": ", "\u{0}\u{1}garbage"])
    func anUnreadableRecordIsListedAndDeletable(_ content: String) throws {
        let sandbox = Sandbox(args: ["sleep", "1000"])
        sandbox.writeConfig()
        let id = Harness.id("unreadable")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        let pid = try #require(sandbox.state(id)?["pid"] as? Int)
        try content.write(toFile: sandbox.root + "/" + id + "/state.json", atomically: false, encoding: .utf8)
        let listed = sandbox.skiff(["list"])
        #expect(listed.stdout.contains(id) && listed.stdout.contains("unreadable"), "\(listed.stdout)")
        let refused = sandbox.skiff(["delete", id])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("unreadable state") && refused.stderr.contains("delete --force"), "\(refused.stderr)")
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
        #expect(Harness.waitFor(seconds: 5) { kill(pid_t(pid), 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") == true })
        sandbox.expectNothingLeft(id)
    }

    /// Once the process runs, `start` succeeds even if the record cannot be written.
    @Test func startOnAFullDiskStartsAndSaysSo() throws {
        let sandbox = Sandbox(args: ["sleep", "1000"])
        sandbox.writeConfig()
        let root = Harness.temporaryDirectory("skiff-fullroot")
        #expect(Harness.run("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", root]).status == 0)
        defer {
            Harness.skiff(["--root", root, "delete", "--force", "full"])
            Harness.run("/bin/umount", [root])
            try? FileManager.default.removeItem(atPath: root)
        }
        #expect(Harness.skiff(["--root", root, "create", "-b", sandbox.bundle, "full"]).status == 0)
        Harness.run("/bin/sh", ["-c", "cat /dev/zero > \(root)/filler 2>/dev/null; true"])
        let started = Harness.skiff(["--root", root, "start", "full"])
        #expect(started.status == 0, "\(started.stderr)")
        #expect(started.stderr.contains("is running, but its state could not be recorded"), "\(started.stderr)")
        let state = Harness.skiff(["--root", root, "state", "full"]).stdout
        #expect(state.contains("\"running\""), "\(state)")
    }

    /// A create killed while its prestart hook runs takes the hook with it.
    @Test func runtimeHooksDieWithTheirCreate() throws {
        let sandbox = Sandbox(args: ["true"])
        let pidFile = sandbox.bundle + "/hook.pid"
        sandbox.spec.hooks = .init(prestart: [.init(path: "/bin/sh", args: ["sh", "-c", "echo $$ > \(pidFile); exec sleep 1000"])])
        sandbox.writeConfig()
        let id = Harness.id("hook-killed")
        let create = Harness.start(["--root", sandbox.root, "create", "-b", sandbox.bundle, id])
        #expect(Harness.waitFor(seconds: 5) { ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").hasSuffix("\n") })
        let hook = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(create.pid, SIGKILL)
        _ = create.finish()
        #expect(sandbox.skiff(["delete", "--force", id]).status == 0)
        #expect(
            Harness.waitFor(seconds: 5) { kill(hook, 0) != 0 || (try? String(contentsOfFile: "/proc/\(hook)/stat", encoding: .utf8))?.contains(") Z ") == true },
            "the prestart hook \(hook) outlived its create")
        sandbox.expectNothingLeft(id)
    }
}
