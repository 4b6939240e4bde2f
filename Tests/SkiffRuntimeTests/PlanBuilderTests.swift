import CShims
import SkiffCgroups
@testable import SkiffRuntime
import SkiffSpec
import Testing

@Suite("launch plans")
struct PlanBuilderTests {
    func builder(_ spec: Spec) -> PlanBuilder {
        PlanBuilder(spec: spec, bundle: "/bundle", rootfs: "/bundle/rootfs", cgroupSystem: CgroupSystem(hierarchies: []), cgroup: nil)
    }

    /// A config written on a newer kernel still runs: capabilities this kernel lacks are
    /// skipped with a warning.
    @Test func capabilitiesTheKernelLacksAreSkippedWithAWarning() throws {
        var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
        spec.linux?.seccomp = nil
        spec.process?.capabilities = .init(bounding: ["CAP_KILL", "CAP_BPF"], effective: ["CAP_KILL"], permitted: ["CAP_KILL", "CAP_BPF"])
        var planner = builder(spec)
        planner.lastCapability = 37   // a kernel before CAP_PERFMON (38) and CAP_BPF (39)
        let output = try planner.build(waitForStart: false)
        #expect(planner.warnings == [
            "process.capabilities.bounding: CAP_BPF is not known to this kernel, skipped",
            "process.capabilities.permitted: CAP_BPF is not known to this kernel, skipped",
        ])
        let bounding = try #require(output.plan.operations.first { $0.code == SKIFF_OP_BOUNDING })
        #expect(bounding.args == [1 << 5, 37])
    }

    /// Seccomp loads last with no_new_privs, and before the capabilities drop without it.
    @Test func seccompIsPlacedAsRuncPlacesIt() throws {
        var spec = Spec.defaultSpec(rootfs: "/bundle/rootfs")
        var planner = builder(spec)
        planner.seccomp = (descriptor: 9, flags: 0)
        var codes = try planner.build(waitForStart: false).plan.operations.map(\.code)
        #expect(codes.firstIndex(of: SKIFF_OP_SECCOMP)! > codes.firstIndex(of: SKIFF_OP_CAPS)!)
        #expect(codes.firstIndex(of: SKIFF_OP_SECCOMP)! > codes.firstIndex(of: SKIFF_OP_NO_NEW_PRIVS)!)
        spec.process?.noNewPrivileges = false
        planner = builder(spec)
        planner.seccomp = (descriptor: 9, flags: 0)
        codes = try planner.build(waitForStart: false).plan.operations.map(\.code)
        #expect(codes.firstIndex(of: SKIFF_OP_SECCOMP)! < codes.firstIndex(of: SKIFF_OP_BOUNDING)!)
        #expect(!codes.contains(SKIFF_OP_NO_NEW_PRIVS))
    }
}
