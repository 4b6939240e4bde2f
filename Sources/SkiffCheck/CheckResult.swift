// SPDX-License-Identifier: Apache-2.0
/// What `skiff check` proves, in groups that `--only` selects.
public enum CheckGroup: String, CaseIterable, Sendable {
    case namespaces, identity, privilege, seccomp, filesystem, resources, network
}

/// One property: what the config (and the policy) promise, what the kernel said inside the
/// task, and the verdict.
public struct CheckResult: Sendable, Equatable {
    public enum Status: String, Sendable { case pass = "PASS", fail = "FAIL", skip = "SKIP" }

    public var group: CheckGroup
    public var property: String
    public var expected: String
    public var observed: String
    public var status: Status
    /// Why a property was skipped (or what a failure means), when the columns do not say.
    public var why: String

    public init(_ group: CheckGroup, _ property: String, expected: String, observed: String, status: Status, why: String = "") {
        self.group = group
        self.property = property
        self.expected = expected
        self.observed = observed
        self.status = status
        self.why = why
    }
}

/// The check itself could not run (exit status 2): bad input, a runtime that is not one,
/// a task that never reported.
public struct CheckError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
