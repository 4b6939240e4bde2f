// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffCgroups
import Testing

/// The cgroup v2 checks (vm/checks.sh) in a real cgroup v2 kernel: on this project's hybrid
/// hosts, Debian's kernel booted in qemu (vm/run); on a pure v2 host, directly.
@Suite("cgroup v2, in a real cgroup v2 kernel")
struct CgroupV2KernelTests {
    @Test(.timeLimit(.minutes(25))) func checksPass() throws {
        let repository = VMRun.repository
        let skiff = repository + "/.build/release/skiff"
        let outcome =
            CgroupSystem.current().isPureV2
            ? try VMRun.run(
                "/bin/sh", [repository + "/vm/checks.sh"],
                environment: ["SKIFF": skiff, "ROOTFS": repository + "/rootfs", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
            : try VMRun.run(repository + "/vm/run", [skiff, repository + "/.build/release/skiff-init", repository + "/rootfs"])
        // Every check of vm/checks.sh: a check added or lost changes this number.
        outcome.expectAllPassed(30)
    }
}
