// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

/// `linux.memoryPolicy` (runtime-spec 1.3): the container's processes run under the NUMA policy
/// the config names, as the kernel reports it (`/proc/self/numa_maps` shows the task's policy
/// on every mapping without one of its own). This machine has one node, node 0.
@Suite("NUMA memory policy")
struct MemoryPolicyTests {
    static var hasNUMA: Bool { FileManager.default.fileExists(atPath: "/proc/self/numa_maps") }

    @Test(
        .enabled(if: hasNUMA),
        arguments: [
            (Spec.MemoryPolicy(mode: "MPOL_BIND", nodes: "0"), "bind:0"),
            (Spec.MemoryPolicy(mode: "MPOL_INTERLEAVE", nodes: "0", flags: ["MPOL_F_STATIC_NODES"]), "interleave=static:0"),
            (Spec.MemoryPolicy(mode: "MPOL_PREFERRED", nodes: "0", flags: ["MPOL_F_RELATIVE_NODES"]), "prefer=relative:0"),
            (Spec.MemoryPolicy(mode: "MPOL_PREFERRED_MANY", nodes: "0"), "prefer (many):0"),
            (Spec.MemoryPolicy(mode: "MPOL_LOCAL"), "local"),
            (Spec.MemoryPolicy(mode: "MPOL_DEFAULT"), "default"),
        ])
    func theContainersProcessesRunUnderThePolicy(policy: Spec.MemoryPolicy, shown: String) {
        let sandbox = Sandbox(args: ["head", "-n", "1", "/proc/self/numa_maps"])
        sandbox.spec.linux?.memoryPolicy = policy
        let result = sandbox.run()
        #expect(result.status == 0, "\(result.stderr)")
        // "ADDRESS POLICY file=…": the policy may hold a space ("prefer (many):0").
        #expect(result.output.drop { $0 != " " }.hasPrefix(" " + shown + " "), "\(result.stdout)")
    }

    /// An exec'd process gets the container's policy too (it is a thread's, inherited only
    /// from its parent: skiff-init sets it for each).
    @Test(.enabled(if: hasNUMA)) func anExecdProcessRunsUnderItToo() {
        let sandbox = Sandbox(args: ["sleep", "30"])
        sandbox.spec.linux?.memoryPolicy = Spec.MemoryPolicy(mode: "MPOL_BIND", nodes: "0")
        sandbox.writeConfig()
        let id = Harness.id("numa")
        #expect(sandbox.skiff(["run", "--detach", "--bundle", sandbox.bundle, id]).status == 0)
        let exec = sandbox.skiff(["exec", id, "sh", "-c", "head -n 1 /proc/self/numa_maps | cut -d' ' -f2"])
        #expect(exec.output == "bind:0", "\(exec.stdout) \(exec.stderr)")
        sandbox.skiff(["delete", "--force", id])
    }

    /// What set_mempolicy(2) would refuse is refused before anything is made, naming the
    /// field; a node this machine lacks is the kernel's refusal, one line, nothing left.
    @Test(arguments: [
        (Spec.MemoryPolicy(mode: nil, nodes: "0"), "linux.memoryPolicy.mode: is required"),
        (Spec.MemoryPolicy(mode: "MPOL_FIRST_TOUCH"), "linux.memoryPolicy.mode: unknown mode \"MPOL_FIRST_TOUCH\""),
        (Spec.MemoryPolicy(mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_LAZY"]), "linux.memoryPolicy.flags[0]: unknown flag \"MPOL_F_LAZY\""),
        (
            Spec.MemoryPolicy(mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]),
            "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"
        ),
        (Spec.MemoryPolicy(mode: "MPOL_BIND", nodes: "0-"), "linux.memoryPolicy.nodes: \"0-\" is not a list of nodes"),
        (Spec.MemoryPolicy(mode: "MPOL_BIND", nodes: "4294967295"), "linux.memoryPolicy.nodes: \"4294967295\" is not a list of nodes"),
        (Spec.MemoryPolicy(mode: "MPOL_BIND", nodes: "3-1"), "linux.memoryPolicy.nodes: \"3-1\" is not a list of nodes"),
        (Spec.MemoryPolicy(mode: "MPOL_BIND"), "linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"),
        (Spec.MemoryPolicy(mode: "MPOL_LOCAL", nodes: "0"), "linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes"),
        (Spec.MemoryPolicy(mode: "MPOL_DEFAULT", flags: ["MPOL_F_STATIC_NODES"]), "linux.memoryPolicy.flags: MPOL_DEFAULT takes no flags"),
        (Spec.MemoryPolicy(mode: "MPOL_BIND", nodes: "7"), "setting the memory policy (linux.memoryPolicy): set_mempolicy: Invalid argument"),
    ])
    func badPoliciesAreRefused(policy: Spec.MemoryPolicy, message: String) {
        Sandbox.expectCreateFails(configuring: { $0.spec.linux?.memoryPolicy = policy }, message, oneLine: true)
    }
}
