// SPDX-License-Identifier: Apache-2.0
import CShims
import SkiffCgroups
import SkiffSpec
import Testing

@testable import SkiffRuntime

@Suite("launch plans")
struct PlanBuilderTests {
    func builder(_ spec: Spec, host: HostFacts = PlanFixtures.host, _ change: (inout PlanBuilder.Options) -> Void = { _ in }) -> PlanBuilder {
        PlanBuilder(spec: spec, bundle: "/bundle", rootfs: "/bundle/rootfs", host: host, options: PlanFixtures.options(change))
    }

    /// A config written on a newer kernel still runs: capabilities this kernel lacks are
    /// skipped with a warning.
    @Test func capabilitiesTheKernelLacksAreSkippedWithAWarning() throws {
        var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
        spec.linux?.seccomp = nil
        spec.process?.capabilities = .init(bounding: ["CAP_KILL", "CAP_BPF"], effective: ["CAP_KILL"], permitted: ["CAP_KILL", "CAP_BPF"])
        var host = PlanFixtures.host
        host.lastCapability = 37  // a kernel before CAP_PERFMON (38) and CAP_BPF (39)
        var planner = builder(spec, host: host)
        let output = try planner.build()
        #expect(
            output.warnings == [
                "process.capabilities.bounding: CAP_BPF is not known to this kernel, skipped",
                "process.capabilities.permitted: CAP_BPF is not known to this kernel, skipped",
            ])
        let bounding = try #require(output.plan.operations.first { $0.code == SKIFF_OP_BOUNDING })
        #expect(bounding.args == [1 << 5, 37])
    }

    /// The filter is read before the descriptors close and loaded by EXEC as late as it can be
    /// (so no call skiff-init makes depends on what a profile allows): just before execve, or,
    /// with a notify listener, just before READY. Without no_new_privs CAPS keeps CAP_SYS_ADMIN
    /// for the load (arg5), which skiff-init drops right after it.
    @Test func seccompIsLoadedAsLateAsItCanBe() throws {
        var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
        for noNewPrivileges in [true, false] {
            spec.process?.noNewPrivileges = noNewPrivileges
            for (flags, loadBeforeReady) in [(UInt32(0), false), (UInt32(1 << 3), true)] {
                var planner = builder(spec) { $0.seccompFlags = flags }
                let operations = try planner.build().plan.operations
                let codes = operations.map(\.code)
                let seccomp = try #require(operations.first { $0.code == SKIFF_OP_SECCOMP })
                #expect(codes.firstIndex(of: SKIFF_OP_SECCOMP)! > codes.firstIndex(of: SKIFF_OP_CHDIR)!)
                #expect(codes.firstIndex(of: SKIFF_OP_SECCOMP)! < codes.firstIndex(of: SKIFF_OP_CLOSE_FDS)!)
                #expect(seccomp.args[1] == Int64(flags))
                #expect(seccomp.args[2] == (loadBeforeReady ? 0 : 1))
                let caps = try #require(operations.first { $0.code == SKIFF_OP_CAPS })
                #expect(caps.args[5] == (noNewPrivileges ? 0 : 1))
                #expect(codes.contains(SKIFF_OP_NO_NEW_PRIVS) == noNewPrivileges)
            }
        }
    }
}
