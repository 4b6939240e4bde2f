// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@Suite("user namespaces")
struct UserNamespaceTests {
    static let mapping = [Spec.IDMapping(containerID: 0, hostID: 100_000, size: 65_536)]

    /// A rootfs copy owned by the host ids that container root maps to.
    static func mappedRootfs() throws -> String {
        let rootfs = try EscapeTests.copyOfRootfs()
        Harness.run("/bin/chown", ["-R", "100000:100000", rootfs])
        return rootfs
    }

    func sandbox(_ script: String, rootfs: String) -> Sandbox {
        let sandbox = Sandbox(args: ["sh", "-c", script])
        sandbox.spec.root = .init(path: rootfs, readonly: false)
        sandbox.spec.linux?.namespaces?.append(.init(.user))
        sandbox.spec.linux?.uidMappings = Self.mapping
        sandbox.spec.linux?.gidMappings = Self.mapping
        return sandbox
    }

    @Test func containerRootIsAnUnprivilegedHostUser() throws {
        let rootfs = try Self.mappedRootfs()
        defer { try? FileManager.default.removeItem(atPath: (rootfs as NSString).deletingLastPathComponent) }
        let box = sandbox("id -u; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '; touch /made-inside && echo touched; sleep 30", rootfs: rootfs)
        box.writeConfig()
        let id = Harness.id("userns")
        let running = Harness.start(["--root", box.root, "run", "-b", box.bundle, id])
        defer {
            box.skiff(["delete", "--force", id])
            _ = running.finish()
            box.expectNothingLeft(id)
        }
        var pid = 0
        Harness.waitFor(seconds: 10, every: 0.02) {
            pid = box.state(id)?["pid"] as? Int ?? 0
            return pid > 0 && ((try? String(contentsOfFile: running.out, encoding: .utf8)) ?? "").contains("touched")
        }
        let output = try String(contentsOfFile: running.out, encoding: .utf8)
        #expect(output.split(separator: "\n").first == "0", "\(output)")
        #expect(output.contains(" 0 100000 65536"))
        #expect(output.contains("touched"))
        // Seen from the host, container root is uid 100000, and so is what it creates.
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(status.contains("Uid:\t100000\t100000\t100000\t100000"), "\(status)")
        let owner = try FileManager.default.attributesOfItem(atPath: rootfs + "/made-inside")[.ownerAccountID] as? Int
        #expect(owner == 100_000)
    }

    @Test func hostFilesAreNotContainerRoots() throws {
        // The shared rootfs belongs to host root: container root cannot write it.
        let box = sandbox("touch /not-mine; echo rc=$?", rootfs: Harness.rootfs)
        let result = box.run()
        #expect(result.stdout.contains("rc=1"), "\(result.stdout) \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: Harness.rootfs + "/not-mine"))
    }

    @Test func badMappingsAreNamed() {
        func expectRejected(_ configure: (Sandbox) -> Void, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
            Sandbox.expectCreateFails(configuring: configure, message, sourceLocation: sourceLocation)
        }
        expectRejected(
            {
                $0.spec.linux?.uidMappings = Self.mapping
                $0.spec.linux?.gidMappings = Self.mapping
            },
            "linux.uidMappings: needs a new user namespace")
        expectRejected({ $0.spec.linux?.namespaces?.append(.init(.user)) }, "linux.uidMappings: a new user namespace needs mappings")
        expectRejected(
            {
                $0.spec.linux?.namespaces?.append(.init(.user))
                $0.spec.linux?.uidMappings = [.init(containerID: 0, hostID: 100_000, size: 1000), .init(containerID: 500, hostID: 200_000, size: 10)]
                $0.spec.linux?.gidMappings = Self.mapping
            }, "linux.uidMappings[1]: container ids overlap linux.uidMappings[0]")
        expectRejected(
            {
                $0.spec.linux?.namespaces?.append(.init(.user))
                $0.spec.linux?.uidMappings = Self.mapping
                $0.spec.linux?.gidMappings = [.init(containerID: 0, hostID: 4_294_967_000, size: 1000)]
            }, "linux.gidMappings[0]: hostID + size is past 4294967296")
        expectRejected(
            {
                $0.spec.linux?.namespaces?.append(.init(.user))
                $0.spec.linux?.uidMappings = [.init(containerID: 0, hostID: 100_000, size: 0)]
                $0.spec.linux?.gidMappings = Self.mapping
            }, "linux.uidMappings[0].size: must not be 0")
    }
}

@Suite("rootless")
struct RootlessTests {
    /// skiff and skiff-init copied into `directory` (which nobody can read), for nobody to run:
    /// the build directory may be closed to others (SwiftPM has made it 0750 on a fresh clone).
    static func binariesForNobody(in directory: String) throws -> String {
        let bin = directory + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let built = (Harness.skiff as NSString).deletingLastPathComponent
        try Harness.installExecutables([built + "/skiff", built + "/skiff-init"], into: bin)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin)
        return bin + "/skiff"
    }

    /// `command` as nobody (uid and gid 65534, no supplementary groups) in `directory`.
    static func asNobody(_ command: [String], in directory: String, environment: [String: String] = [:], stdin: String? = nil) throws -> Harness.Result {
        // env -C: the child's own chdir (posix_spawn's is not in Swift's Glibc).
        Harness.start(
            ["-C", directory, "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + command,
            executable: "/usr/bin/env", stdin: stdin ?? "", environment: ["PATH": "/usr/bin:/bin"].merging(environment) { _, new in new }
        ).finish()
    }

    /// An unprivileged user (nobody) runs the default task from `skiff spec --rootless`.
    @Test func nobodyRunsTheRootlessSpec() throws {
        let bundle = Harness.temporaryDirectory("skiff-rootless")
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let state = bundle + "/state"
        try FileManager.default.setAttributes([.ownerAccountID: 65534, .groupOwnerAccountID: 65534], ofItemAtPath: bundle)
        let skiff = try Self.binariesForNobody(in: bundle)
        func asNobody(_ arguments: [String], stdin: String? = nil) throws -> Harness.Result {
            try Self.asNobody([skiff] + arguments, in: bundle, stdin: stdin)
        }
        #expect(try asNobody(["spec", "--rootless"]).status == 0)
        try FileManager.default.createSymbolicLink(atPath: bundle + "/rootfs", withDestinationPath: Harness.rootfs)
        let spec = try SpecLoader.load(bundle: bundle)
        #expect(spec.linux?.uidMappings == [.init(containerID: 0, hostID: 65534, size: 1)])
        let log = bundle + "/log"
        let id = Harness.id("rootless")
        let result = try asNobody(
            ["--root", state, "--log", log, "run", "-b", bundle, id],
            stdin: "id -u; cat /proc/self/uid_map | tr -s ' '; grep Seccomp: /proc/self/status\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").first == "0", "\(result.stdout)")
        #expect(result.stdout.contains(" 0 65534 1"))
        #expect(result.stdout.contains("Seccomp:\t2"))
        // It says that it runs without cgroup limits.
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("without cgroup limits"))
        #expect(try asNobody(["--root", state, "list", "--quiet"]).stdout.isEmpty)

        // exec --cgroup into a container that has no cgroup is refused, not ignored.
        var sleeping = spec
        sleeping.process?.args = ["sh", "-c", "exec sleep 30 >/dev/null 2>&1"]  // lets go of the test's pipes
        sleeping.process?.terminal = false
        #expect(FileManager.default.createFile(atPath: bundle + "/config.json", contents: Data(SpecLoader.encode(sleeping))))
        let sleeper = Harness.id("rootless-exec")
        let detached = try asNobody(["--root", state, "run", "-d", "-b", bundle, sleeper])
        #expect(detached.status == 0, "\(detached.stderr)")
        let refused = try asNobody(["--root", state, "exec", "--cgroup", "sub", sleeper, "true"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--cgroup: container \"\(sleeper)\" has no cgroup"), "\(refused.stderr)")
        #expect(try asNobody(["--root", state, "delete", "--force", sleeper]).status == 0)
    }

    /// As rootless podman runs its runtime: in a user namespace of its own where the euid is 0
    /// (here nobody's, with one id mapped), XDG_RUNTIME_DIR set, no --root, and the config a
    /// rootful engine would write (no user namespace of its own, device nodes, devpts with
    /// gid=5). The state goes to XDG_RUNTIME_DIR/skiff as runc's would (/run/skiff when USER is
    /// root), devices are bound from the node, and the unmappable gid=5 is left out, said.
    @Test func rootAsRootlessPodmanHasItRunsTheEngineConfig() throws {
        let bundle = Harness.temporaryDirectory("skiff-podman-rootless")
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let runtimeDirectory = bundle + "/xdg"
        try FileManager.default.createDirectory(atPath: runtimeDirectory, withIntermediateDirectories: true)
        for path in [bundle, runtimeDirectory] {
            try FileManager.default.setAttributes([.ownerAccountID: 65534, .groupOwnerAccountID: 65534], ofItemAtPath: path)
        }
        var spec = Spec.defaultSpec(rootfs: Harness.rootfs)
        spec.process?.args = ["sh", "-c", "echo hi > /dev/null && exec sleep 30 > /dev/null 2>&1"]  // lets go of the pipes
        #expect(FileManager.default.createFile(atPath: bundle + "/config.json", contents: Data(SpecLoader.encode(spec))))
        let id = Harness.id("podman-rootless")
        let skiff = try Self.binariesForNobody(in: bundle)
        func inPodmansNamespace(_ arguments: [String], user: String = "skiffuser") throws -> Harness.Result {
            try Self.asNobody(
                ["/usr/bin/unshare", "--user", "--map-root-user", skiff] + arguments, in: bundle,
                environment: ["XDG_RUNTIME_DIR": runtimeDirectory, "USER": user])
        }
        let started = try inPodmansNamespace(["run", "-d", "-b", bundle, id])
        #expect(started.status == 0, "\(started.stderr)")
        #expect(started.stderr.contains("mounts[2].options: gid=5 left out: group 5 has no mapping in the user namespace"), "\(started.stderr)")
        #expect(FileManager.default.fileExists(atPath: runtimeDirectory + "/skiff/" + id + "/state.json"), "no state under XDG_RUNTIME_DIR/skiff")
        let state = try inPodmansNamespace(["state", id])
        #expect(state.stdout.contains("\"status\": \"running\""), "\(state.stdout) \(state.stderr)")
        #expect(try inPodmansNamespace(["delete", "--force", id]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: runtimeDirectory + "/skiff/" + id))
        // USER=root in a user namespace: runc's /run/<name>, which nobody cannot write.
        let asRoot = try inPodmansNamespace(["run", "-b", bundle, id], user: "root")
        #expect(asRoot.status != 0)
        #expect(asRoot.stderr.contains("/run/skiff"), "\(asRoot.stderr)")
    }
}

@Suite("idmapped mounts")
struct IDMappedMountTests {
    /// The mapping is read as runc reads it (the kernel's idmapped-mount rule): an id on the
    /// source filesystem is a `containerID` and is seen as its `hostID`. Root's files in the
    /// source show as uid 1000 through the mount, and what uid 1000 creates there is root's.
    @Test func anIdmappedBindMountTranslatesOwners() throws {
        let host = Harness.temporaryDirectory("skiff-idmap")
        defer { try? FileManager.default.removeItem(atPath: host) }
        #expect(FileManager.default.createFile(atPath: host + "/owned", contents: Data("x".utf8)))
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: host)
        let sandbox = Sandbox(args: ["sh", "-c", "stat -c %u:%g /srv/owned; touch /srv/created && echo created"])
        sandbox.spec.process?.user = .init(uid: 1000, gid: 1000)
        var mount = Spec.Mount(destination: "/srv", type: "bind", source: host, options: ["rbind"])
        mount.uidMappings = [.init(containerID: 0, hostID: 1000, size: 1)]
        mount.gidMappings = [.init(containerID: 0, hostID: 1000, size: 1)]
        sandbox.spec.mounts?.append(mount)
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("1000:1000"), "\(result.stdout)")
        #expect(result.stdout.contains("created"))
        let attributes = try FileManager.default.attributesOfItem(atPath: host + "/created")
        #expect(attributes[.ownerAccountID] as? Int == 0)
        // Without the idmap the same file is root's, and uid 1000 sees it so.
        let plain = Sandbox(args: ["stat", "-c", "%u", "/srv/owned"])
        plain.spec.mounts?.append(.init(destination: "/srv", type: "bind", source: host, options: ["rbind"]))
        #expect(plain.run().output == "0")
    }

    @Test func onlyBindMountsWithBothMapsCanBeIdmapped() {
        let sandbox = Sandbox()
        var mount = Spec.Mount(destination: "/mnt", type: "tmpfs", source: "tmpfs")
        mount.uidMappings = [.init(containerID: 0, hostID: 1000, size: 1)]
        sandbox.spec.mounts?.append(mount)
        sandbox.writeConfig()
        let id = Harness.id("idmap-bad")
        let result = sandbox.skiff(["create", "-b", sandbox.bundle, id])
        #expect(result.stderr.contains("mounts[7].uidMappings: only bind mounts can be idmapped"), "\(result.stderr)")
        sandbox.expectNothingLeft(id)
    }
}
