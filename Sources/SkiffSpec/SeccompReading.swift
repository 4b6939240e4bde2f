extension Spec.Seccomp {
    /// Whether the profile lets `name` through when it is called with no argument conditions
    /// met: the action of the last rule naming it without conditions (skiff's generator lets a
    /// later rule win), else the default action. Logging counts as letting through.
    public func allows(_ name: String) -> Bool {
        let rule = (syscalls ?? []).last { $0.names.contains(name) && ($0.args ?? []).isEmpty }
        let action = rule?.action ?? defaultAction
        return action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG"
    }
}
