// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// The Linux security modules skiff applies: AppArmor profiles and SELinux labels, each only
/// where the kernel has that module enabled. A config that asks for one the host does not
/// have is refused (a confinement is never dropped silently); one the host has is applied by
/// skiff-init just before the container's execve, through the process's exec attribute.
public enum SecurityModules {
    public static var appArmorEnabled: Bool {
        let flag = (try? readFile("/sys/module/apparmor/parameters/enabled")) ?? []
        return flag.first == UInt8(ascii: "Y") && access("/sys/kernel/security/apparmor", F_OK) == 0
    }

    public static var selinuxEnabled: Bool { access("/sys/fs/selinux/enforce", F_OK) == 0 }

    /// The modules this host lets skiff apply, for `features` and `--version`.
    public static var applied: [String] {
        (appArmorEnabled ? ["apparmor"] : []) + (selinuxEnabled ? ["selinux"] : [])
    }

    /// Refuses what cannot be honoured here, naming the field.
    static func check(_ process: Spec.Process, mountLabel: String?) throws(SpecError) {
        if let profile = process.apparmorProfile, !profile.isEmpty {
            guard appArmorEnabled else { throw SpecError("process.apparmorProfile", "AppArmor is not enabled on this host, so profile \"\(profile)\" cannot be applied") }
            // The kernel reads the attribute up to a newline.
            if profile.contains("\n") { throw SpecError("process.apparmorProfile", "must not contain a newline") }
            // Checked now, while the error still reaches the caller: the kernel would refuse it
            // only at the container's execve, after `start`.
            if profile != "unconfined", !loadedAppArmorProfiles().contains(profile) {
                throw SpecError("process.apparmorProfile", "profile \"\(profile)\" is not loaded (apparmor_parser -r loads it)")
            }
        }
        if let label = process.selinuxLabel, !label.isEmpty, !selinuxEnabled {
            throw SpecError("process.selinuxLabel", "SELinux is not enabled on this host, so label \"\(label)\" cannot be applied")
        }
        if let label = mountLabel, !label.isEmpty, !selinuxEnabled {
            throw SpecError("linux.mountLabel", "SELinux is not enabled on this host, so label \"\(label)\" cannot be applied")
        }
    }

    /// The names of the profiles the kernel has, from "name (mode)" lines.
    static func loadedAppArmorProfiles() -> Set<String> {
        let text = String(decoding: (try? readFile("/sys/kernel/security/apparmor/profiles")) ?? [], as: UTF8.self)
        return Set(
            text.split(separator: "\n").map { line in
                line.hasSuffix(")") ? String(line[..<(line.lastIndex(of: "(") ?? line.endIndex)].dropLast()) : String(line)
            })
    }

    /// The EXEC_LABEL operations for `process`: the attribute file under
    /// /proc/thread-self/attr and what to write into it.
    static func execLabels(for process: Spec.Process, host: HostFacts) -> [(attribute: String, value: String)] {
        var labels: [(String, String)] = []
        if let profile = process.apparmorProfile, !profile.isEmpty {
            // With stacked modules each has its own directory; older kernels have only the shared file.
            let attribute = host.appArmorHasOwnAttributes ? "apparmor/exec" : "exec"
            labels.append((attribute, "exec " + profile))
        }
        if let label = process.selinuxLabel, !label.isEmpty {
            labels.append(("exec", label))
        }
        return labels
    }
}

extension LaunchPlan {
    /// The process's AppArmor profile and SELinux label, set for its execve (see skiff_plan.h).
    mutating func appendExecLabels(for process: Spec.Process, host: HostFacts) {
        for label in SecurityModules.execLabels(for: process, host: host) {
            execLabel(label.attribute, label.value)
        }
    }
}
