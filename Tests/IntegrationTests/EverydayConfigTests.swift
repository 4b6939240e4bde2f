// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffCgroups
import SkiffSpec
import Testing

/// Configs as the tools people use write them run: Docker's zeros, `crun spec` and `runc spec`
/// (and buildah's capability sets), no mount namespace, hooks whose failures are warnings,
/// seccomp profiles that deny what skiff-init itself used to call late.
@Suite("everyday configs run")
struct EverydayConfigTests {
    /// Docker 20.10 writes 0 into every resource field it does not set, in config.json and in
    /// `update` (where it sends LinuxResources on stdin through containerd's shim).
    @Test func dockersZerosMeanNotSet() throws {
        let sandbox = Sandbox(args: ["sleep", "1000"])
        sandbox.writeConfig()
        var config = try String(contentsOfFile: sandbox.bundle + "/config.json", encoding: .utf8)
        let docker = """
            "resources": {"devices": [{"allow": false, "access": "rwm"}],
              "memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0, "kernelTCP": 0, "disableOOMKiller": false},
              "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "", "mems": ""},
              "pids": {"limit": 0},
              "blockIO": {"weight": 0}},
            """
        config = config.replacingOccurrences(of: "\"linux\": {", with: "\"linux\": {" + docker)
        sandbox.writeRawConfig(config)
        let id = Harness.id("docker")
        let created = sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(!created.stderr.contains("warning"), "\(created.stderr)")
        let cpu = ContainerCgroupFiles(id: id)
        let period = cpu.read("cpu", "cpu.cfs_period_us")
        let update = sandbox.skiff(
            ["update", "--resources", "-", id],
            stdin: """
                {"memory": {"limit": 0, "reservation": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": ""},
                 "blockIO": {"weight": 0}, "pids": {"limit": 0}}
                """)
        #expect(update.status == 0, "\(update.stderr)")
        #expect(cpu.read("cpu", "cpu.cfs_period_us") == period)
        // update refuses what config.json refuses.
        let negative = sandbox.skiff(["update", "--resources", "-", id], stdin: #"{"memory": {"limit": -5}}"#)
        #expect(negative.status != 0)
        #expect(negative.stderr.contains("linux.resources.memory.limit: must be positive"), "\(negative.stderr)")
        #expect(sandbox.skiff(["update", "--pids-limit", "-3", id]).stderr.contains("linux.resources.pids.limit: must be positive"))
        sandbox.skiff(["delete", "--force", id])
    }

    /// Cgroup files of a container at the default path, for reading limits.
    struct ContainerCgroupFiles {
        var id: String
        func read(_ controller: String, _ file: String) -> String? {
            let cgroup = ContainerCgroup.plan(cgroupsPath: nil, id: id, system: .current())
            guard let directory = cgroup.directory(for: controller) else { return nil }
            return try? String(contentsOfFile: directory.path + "/" + file, encoding: .utf8)
        }
    }

    /// `crun spec` (ambient capabilities without the inheritable set, as buildah's configs have
    /// too) and `runc spec` run unchanged: the ambient set is skipped with one warning.
    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/crun") && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc"),
            "crun and runc installed (make deps)"),
        arguments: ["/usr/bin/crun", "/usr/sbin/runc"])
    func otherRuntimesDefaultConfigsRun(_ runtime: String) throws {
        let sandbox = Sandbox()
        try? FileManager.default.createSymbolicLink(atPath: sandbox.bundle + "/rootfs", withDestinationPath: Harness.rootfs)
        let made = Harness.run("/bin/sh", ["-c", "cd \(sandbox.bundle) && \(runtime) spec"])
        #expect(made.status == 0, "\(made.stderr)")
        var config = try String(contentsOfFile: sandbox.bundle + "/config.json", encoding: .utf8)
        // The spec's process is an interactive shell: run a command instead, without a terminal.
        config = config.replacingOccurrences(of: "\"terminal\": true", with: "\"terminal\": false")
        config = config.replacingOccurrences(of: "\"sh\"\n", with: "\"sh\", \"-c\", \"grep CapAmb /proc/self/status; echo ran\"\n")
        sandbox.writeRawConfig(config)
        let result = sandbox.skiff(["run", "-b", sandbox.bundle, Harness.id("spec")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("ran"), "\(result.stdout)")
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("process.capabilities.ambient") }
        if config.contains("\"ambient\"") && !config.contains("\"inheritable\"") {
            #expect(warnings.count == 1, "\(result.stderr)")
            #expect(warnings.first?.contains("not raised") == true)
        }
    }

    /// Namespaces are optional: without a mount namespace the task shares the node's mounts,
    /// so it is only chroot'ed, and anything that would mount is refused.
    @Test func withoutAMountNamespaceTheTaskIsChrooted() throws {
        let sandbox = Sandbox(args: ["sh", "-c", "ls /bin/busybox && pwd && cat /proc/self/status | grep -c Pid || echo no-proc"])
        sandbox.spec.linux?.namespaces?.removeAll { $0.kind == .mount }
        sandbox.writeConfig()
        sandbox.expectCreateFails("mounts: needs a mount namespace of the container's own", oneLine: true)
        sandbox.spec.mounts = nil
        sandbox.spec.linux?.maskedPaths = nil
        sandbox.spec.linux?.readonlyPaths = nil
        sandbox.spec.root?.readonly = false
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("/bin/busybox"))
        // Nothing was mounted in the node's mount namespace (the rootfs is not even bound).
        #expect(!(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).contains(Harness.rootfs))
        sandbox.spec.linux?.maskedPaths = ["/proc/kcore"]
        sandbox.writeConfig()
        sandbox.expectCreateFails("linux.maskedPaths: needs a mount namespace", oneLine: true)
    }

    /// A failing poststop hook is a warning, and the hooks after it still run (a failing
    /// poststart stops the container since runtime-spec 1.3: HookTests).
    @Test func theHooksAfterAFailingOneStillRun() throws {
        let sandbox = Sandbox(args: ["true"])
        let marks = sandbox.bundle + "/marks"
        sandbox.spec.hooks = .init(
            poststart: [.init(path: "/bin/sh", args: ["sh", "-c", "echo poststart >> \(marks)"])],
            poststop: [.init(path: "/bin/false"), .init(path: "/bin/sh", args: ["sh", "-c", "echo poststop >> \(marks)"])])
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOfFile: marks, encoding: .utf8) == "poststart\npoststop\n")
        #expect(result.stderr.contains("poststop hook /bin/false: exited with status 1"), "\(result.stderr)")
    }

    /// A profile may deny any call the container's process does not need: skiff-init loads the
    /// filter just before execve (with no_new_privs or without), so it never depends on one.
    @Test(arguments: [true, false])
    func profilesMayDenyWhatSkiffInitUsedToCallLate(_ noNewPrivileges: Bool) {
        for denied in [
            "getcwd", "close_range", "setsid", "getsid", "read", "sendto", "sendmsg", "prctl", "setresuid",
            "setgroups", "capget", "openat2", "fstatfs", "rt_sigaction", "nanosleep", "wait4",
        ] {
            let sandbox = Sandbox(args: ["echo", "ran"])
            sandbox.spec.process?.noNewPrivileges = noNewPrivileges
            sandbox.spec.linux?.seccomp?.syscalls?.insert(.init(names: [denied], action: "SCMP_ACT_ERRNO", errnoRet: 1), at: 0)
            let result = sandbox.run()
            #expect(result.status == 0, "denying \(denied): \(result.stderr)")
            #expect(result.output == "ran", "denying \(denied)")
        }
        // The process still ends with the capabilities it was given, and the filter.
        let sandbox = Sandbox(args: ["grep", "-E", "^(CapEff|Seccomp):", "/proc/self/status"])
        sandbox.spec.process?.noNewPrivileges = noNewPrivileges
        #expect(sandbox.run().output.split(separator: "\n").map { $0.split(separator: "\t").last.map(String.init) ?? "" } == ["0000000020000420", "2"])
    }

    /// Without no_new_privs skiff-init must drop CAP_SYS_ADMIN after loading the filter: a
    /// profile that denies capset then cannot be honoured, and is refused up front.
    @Test func aProfileThatDeniesCapsetWithoutNoNewPrivsIsRefused() {
        let sandbox = Sandbox()
        sandbox.spec.process?.noNewPrivileges = false
        sandbox.spec.linux?.seccomp?.syscalls?.insert(.init(names: ["capset"], action: "SCMP_ACT_ERRNO", errnoRet: 1), at: 0)
        sandbox.writeConfig()
        sandbox.expectCreateFails("linux.seccomp: denies capset, which skiff must call after loading the filter", oneLine: true)
    }

    /// An LSM this host does not enable cannot confine the task: refused, never dropped.
    @Test func labelsOfModulesThisHostLacksAreRefused() {
        let appArmor = (try? String(contentsOfFile: "/sys/module/apparmor/parameters/enabled", encoding: .utf8))?.hasPrefix("Y") == true
        let selinux = FileManager.default.fileExists(atPath: "/sys/fs/selinux/enforce")
        if !appArmor {
            Sandbox.expectCreateFails(
                configuring: { $0.spec.process?.apparmorProfile = "docker-default" },
                "process.apparmorProfile: AppArmor is not enabled on this host")
        }
        if !selinux {
            Sandbox.expectCreateFails(
                configuring: { $0.spec.process?.selinuxLabel = "system_u:system_r:container_t:s0" },
                "process.selinuxLabel: SELinux is not enabled on this host")
            Sandbox.expectCreateFails(
                configuring: { $0.spec.linux?.mountLabel = "system_u:object_r:container_file_t:s0" },
                "linux.mountLabel: SELinux is not enabled on this host")
        }
        let features = Harness.skiff(["features"]).stdout
        #expect(features.contains("\"apparmor\": {\n      \"enabled\": \(appArmor)"), "\(features)")
        #expect(features.contains("\"selinux\": {\n      \"enabled\": \(selinux)"), "\(features)")
    }

    /// A limit below what a running container uses is named as the cause (v1 says EBUSY).
    @Test(.enabled(if: CgroupSystem.current().hierarchy(for: "memory")?.version == .v1, "the memory controller on cgroup v1"))
    func anUpdateBelowTheMemoryInUseIsNamed() throws {
        let sandbox = Sandbox(args: ["sh", "-c", "dd if=/dev/zero of=/dev/shm/f bs=1M count=20 2>/dev/null; echo ready; sleep 1000"])
        sandbox.writeConfig()
        let id = Harness.id("below-usage")
        #expect(sandbox.skiff(["run", "-d", "-b", sandbox.bundle, id]).status == 0)
        defer { sandbox.skiff(["delete", "--force", id]) }
        let cgroup = ContainerCgroup.plan(cgroupsPath: nil, id: id, system: .current())
        let usage = try #require(cgroup.directory(for: "memory")).path + "/memory.usage_in_bytes"
        Harness.waitFor(seconds: 10, every: 0.02) {
            (Int((try? String(contentsOfFile: usage, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0) >= 20 << 20
        }
        let result = sandbox.skiff(["update", "--memory", "2m", id])
        #expect(result.status != 0)
        #expect(
            result.stderr.contains("linux.resources.memory.limit: writing \"2097152\"") && result.stderr.contains("the limit is below what the container uses now"),
            "\(result.stderr)")
    }

    /// A memory limit below what the container needs to start is named as the cause.
    @Test func aMemoryLimitTooSmallToStartIsNamed() {
        let sandbox = Sandbox(args: ["true"])
        sandbox.spec.linux?.resources = .init(memory: .init(limit: 4096))
        sandbox.writeConfig()
        sandbox.expectCreateFails("linux.resources.memory.limit: 4096 bytes is too little for the container to start", oneLine: true)
    }
}
