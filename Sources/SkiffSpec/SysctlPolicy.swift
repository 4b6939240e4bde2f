// SPDX-License-Identifier: Apache-2.0
/// Which `linux.sysctl` keys a container may set: only those the kernel keeps per namespace,
/// and only when the container has that namespace to itself. Anything else would be written
/// into the node's own kernel (`kernel.*`, `vm.*`) or, without a network namespace of its
/// own, into the node's network stack. runc's validator is the reference.
public enum SysctlPolicy {
    /// IPC namespace sysctls (plus every `fs.mqueue.*`).
    static let ipcKeys: Set<String> = [
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
    ]

    /// `ownsNamespace(kind)`: the container has `kind` to itself (a new one, or one joined by a
    /// path that is not the runtime's own).
    public static func check(_ sysctl: [String: String], ownsNamespace: (Spec.NamespaceKind) -> Bool) throws(SpecError) {
        let path = JSONPath("linux").key("sysctl")
        for key in sysctl.keys.sorted() {
            let field = path[key]
            if ipcKeys.contains(key) || key.hasPrefix("fs.mqueue.") {
                guard ownsNamespace(.ipc) else { throw SpecError(field, "needs an ipc namespace of the container's own: without one it would change the node's") }
            } else if key.hasPrefix("net.") {
                guard ownsNamespace(.network) else { throw SpecError(field, "needs a network namespace of the container's own: without one it would change the node's") }
            } else if key == "kernel.domainname" {
                guard ownsNamespace(.uts) else { throw SpecError(field, "needs a uts namespace of the container's own: without one it would change the node's") }
            } else if key == "kernel.hostname" {
                throw SpecError(field, "set the hostname with the \"hostname\" field")
            } else {
                throw SpecError(
                    field, "is not namespaced: it would change the node's kernel for every tenant (only ipc, net.* and kernel.domainname sysctls are accepted)")
            }
        }
    }
}
