// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// The systemd cgroup driver on a real systemd host: Debian 12 booted in qemu with systemd as
/// PID 1 on pure cgroup v2 (vm/systemd: the image is built from Debian's packages by
/// build-image, cached under .build/systemd-vm). The checks are vm/systemd/checks.sh: the
/// driver itself, rootless with a user's manager, then podman (rootful, and rootless at its
/// defaults: skiff in podman's user namespace), containerd, Docker and buildah
/// at their defaults with skiff as their runtime, and a Kubernetes pod through containerd's
/// CRI plugin with `SystemdCgroup = true` (the last three from the scenarios the host's
/// integration tests run, Tests/IntegrationTests/helpers).
@Suite("the systemd cgroup driver, on a systemd host", .serialized)
struct SystemdDriverTests {
    /// (A VM whose kernel panics or whose boot hangs is booted once more, vm/boot-lib.sh: the
    /// time limits allow for two runs.)
    static let checks = 313

    @Test(.timeLimit(.minutes(45))) func checksPassInTheSystemdVM() throws {
        try Self.checksPass(suite: "bookworm")
    }

    /// The node of 2026: Debian 13 (kernel 6.12, systemd 257, podman 5, containerd 1.7,
    /// Docker 26), the same checks and engine scenarios at their defaults, rootful and rootless.
    @Test(.timeLimit(.minutes(45))) func checksPassInTheDebian13VM() throws {
        try Self.checksPass(suite: "trixie")
    }

    static func checksPass(suite: String) throws {
        let repository = VMRun.repository
        let run = {
            try VMRun.run(
                repository + "/vm/systemd/run",
                [repository + "/.build/release/skiff", repository + "/.build/release/skiff-init", repository + "/rootfs"],
                environment: ProcessInfo.processInfo.environment.merging(["SUITE": suite]) { _, new in new })
        }
        var outcome = try run()
        // Twice a CI run saw the script end with status 141 and no output, within 70 s: before
        // its VM booted, when nothing of skiff had run (on the host the script only copies
        // skiff's binaries into the VM's disk). The script now says each step and the line it
        // stopped at; one that stopped before booting is printed here and run once more.
        if outcome.status != 0, !outcome.lines.contains(where: { $0.contains("booting") }) {
            print("vm/systemd/run (\(suite)) \(outcome.ending) before booting its VM; once more. Its output:\n\(outcome.text)")
            outcome = try run()
        }
        // `systemctl status` of a skiff scope, for whoever reads the test's output.
        print(outcome.lines.filter { $0.hasPrefix("SKIFF-VM-START") || $0.hasPrefix("  | ") }.joined(separator: "\n"))
        // Every check of vm/systemd/checks.sh, the Docker, buildah and CRI scenarios' lines and
        // their exit statuses among them: a check added or lost changes this number.
        outcome.expectAllPassed(Self.checks)
    }
}
