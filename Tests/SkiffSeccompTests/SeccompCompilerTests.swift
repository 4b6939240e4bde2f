// SPDX-License-Identifier: Apache-2.0
import SkiffSeccomp
import SkiffSpec
import Testing

@Suite("seccomp compiler")
struct SeccompCompilerTests {
    @Test func theDefaultProfileCompilesToAProgram() throws {
        let checked = try SeccompCompiler.check(.defaultProfile)
        #expect(checked.flags == 0)
        #expect(!checked.needsListener)
        let program = try SeccompCompiler.compile(.defaultProfile)
        #expect(program.count % 8 == 0)
        #expect(program.count / 8 > 100)  // hundreds of syscalls, three architectures
    }

    @Test func flagsAndTheListenerAreDerived() throws {
        let profile = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            listenerPath: "/", listenerMetadata: "m",
            syscalls: [.init(names: ["mkdir"], action: "SCMP_ACT_NOTIFY")])
        let checked = try SeccompCompiler.check(profile)
        #expect(checked.flags == 2 | 4 | 8)
        #expect(checked.needsListener)
        #expect(checked.listenerMetadata == "m")
    }

    @Test func unknownSyscallsAreWarnedNotFatal() throws {
        let profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ERRNO", syscalls: [.init(names: ["read", "not_a_syscall"], action: "SCMP_ACT_ALLOW")])
        let checked = try SeccompCompiler.check(profile)
        #expect(checked.warnings == [#"linux.seccomp.syscalls[0].names: unknown syscall "not_a_syscall", skipped"#])
        #expect(try SeccompCompiler.compile(profile).count > 0)
    }

    @Test func aRuleEqualToTheDefaultIsDropped() throws {
        // libseccomp refuses such a rule; it changes nothing, so skiff (like runc) leaves it out.
        let profile = Spec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["read"], action: "SCMP_ACT_ALLOW")])
        #expect(try SeccompCompiler.compile(profile).count > 0)
    }

    @Test func twoComparisonsOfOneArgumentBecomeTwoRules() throws {
        let profile = Spec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [
                .init(
                    names: ["personality"], action: "SCMP_ACT_ERRNO",
                    args: [
                        .init(index: 0, value: 8, op: "SCMP_CMP_EQ"), .init(index: 0, value: 9, op: "SCMP_CMP_EQ"),
                    ])
            ])
        #expect(try SeccompCompiler.compile(profile).count > 0)
    }

    @Test func badSectionsNameTheField() {
        func expectError(_ profile: Spec.Seccomp, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try SeccompCompiler.check(profile)
                Issue.record("expected \(message)", sourceLocation: sourceLocation)
            } catch {
                #expect(error.description == message, sourceLocation: sourceLocation)
            }
        }
        expectError(.init(defaultAction: "SCMP_ACT_NOPE"), #"linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_NOPE""#)
        expectError(.init(defaultAction: "SCMP_ACT_ALLOW", architectures: ["x86_64"]), #"linux.seccomp.architectures[0]: unknown architecture "x86_64""#)
        expectError(
            .init(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: [], action: "SCMP_ACT_ERRNO")]),
            "linux.seccomp.syscalls[0].names: must not be empty")
        expectError(
            .init(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["read"], action: "SCMP_ACT_ERRNO", args: [.init(index: 9, value: 0, op: "SCMP_CMP_EQ")])]),
            "linux.seccomp.syscalls[0].args[0].index: must be 0 to 5 (a syscall has six arguments), got 9")
    }
}
