// SPDX-License-Identifier: Apache-2.0
import SkiffSpec
import Testing

@testable import SkiffCheck

/// `skiff check --policy`: the two forms it reads, and every kind of bad policy named by line.
@Suite("check policies")
struct CheckPolicyTests {
    @Test func yamlAndJSONSayTheSame() throws {
        let yaml = try CheckPolicy(
            text: """
                # a comment
                deniedSyscalls: [ptrace, mount]
                forbiddenCapabilities: [CAP_SYS_ADMIN]
                maxMemory: 67108864
                readonlyRoot: true
                noNewPrivileges: true
                namespaces: [pid, network]
                unreachable: ["tcp:10.77.0.3:5432"]
                """, file: "policy.yaml")
        let json = try CheckPolicy(
            text: """
                {"deniedSyscalls": ["ptrace", "mount"], "forbiddenCapabilities": ["CAP_SYS_ADMIN"], "maxMemory": 67108864,
                 "readonlyRoot": true, "noNewPrivileges": true, "namespaces": ["pid", "network"], "unreachable": ["tcp:10.77.0.3:5432"]}
                """, file: "policy.json")
        #expect(yaml == json)
        #expect(yaml.deniedSyscalls == ["ptrace", "mount"])
        #expect(yaml.maxMemory == 64 << 20)
    }

    @Test(arguments: [
        ("maxMemory: lots", "policy.yaml: line 1: maxMemory: a number of bytes"),
        ("forbiddenCapabilities: [CAP_BOGUS]", "policy.yaml: line 1: forbiddenCapabilities: unknown capability \"CAP_BOGUS\""),
        ("readonlyRoot: true\nnamespaces: [netz]", "policy.yaml: line 2: namespaces: unknown namespace \"netz\""),
        ("reachable: [\"10.0.0.1:80\"]", "policy.yaml: line 1: reachable: \"10.0.0.1:80\" is not tcp:ADDRESS:PORT"),
        ("colour: blue", "policy.yaml: line 1: unknown key \"colour\""),
        ("{\"maxMemory\": ", "policy.yaml: line 1, column 15: unexpected end of file"),
    ])
    func badPoliciesAreNamedByLine(_ text: String, _ message: String) {
        do {
            _ = try CheckPolicy(text: text, file: "policy.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }
}

/// How `skiff check` judges the process's LSM label.
@Suite("check: the security label")
struct SecurityLabelTests {
    @Test func aRequestedProfileMustBeTheOneInForce() {
        var process = Spec.defaultSpec().process
        #expect(CheckPlan.securityLabel(process, observed: "unconfined").status == .pass)
        process?.apparmorProfile = "skiff-default"
        #expect(CheckPlan.securityLabel(process, observed: "skiff-default (enforce)").status == .pass)
        #expect(CheckPlan.securityLabel(process, observed: "unconfined").status == .fail)
        #expect(CheckPlan.securityLabel(process, observed: nil).status == .fail)
    }
}
