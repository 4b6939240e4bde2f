// SPDX-License-Identifier: Apache-2.0
extension Spec.Seccomp {
    /// Whether the profile lets `name` through: the action of the first rule naming it (the
    /// one libseccomp keeps), else the default action. A rule with argument conditions is
    /// taken as letting it through (what the call's arguments will be is not known here).
    /// Logging counts as letting through.
    public func allows(_ name: String) -> Bool {
        let rule = (syscalls ?? []).first { $0.names.contains(name) }
        if let rule, !(rule.args ?? []).isEmpty { return true }
        let action = rule?.action ?? defaultAction
        return action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG"
    }
}
