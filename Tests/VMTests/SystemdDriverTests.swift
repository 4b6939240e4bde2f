import Foundation
import Testing

/// The systemd cgroup driver on a real systemd host: Debian 12 booted in qemu with systemd as
/// PID 1 on pure cgroup v2 (vm/systemd: the image is built from Debian's packages by
/// build-image, cached under .build/systemd-vm). The checks are vm/systemd/checks.sh: the
/// driver itself, then podman and containerd at their defaults with skiff as their runtime.
@Suite("the systemd cgroup driver, on a systemd host")
struct SystemdDriverTests {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    @Test(.timeLimit(.minutes(15))) func checksPassInTheSystemdVM() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.repository + "/vm/systemd/run")
        process.arguments = [Self.repository + "/.build/release/skiff", Self.repository + "/.build/release/skiff-init", Self.repository + "/rootfs"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(separator: "\n").map(String.init)
        for failure in lines where failure.hasPrefix("not ok - ") {
            Issue.record("\(failure.dropFirst(9))")
        }
        // `systemctl status` of a skiff scope, for whoever reads the test's output.
        print(lines.filter { $0.hasPrefix("SKIFF-VM-START") || $0.hasPrefix("  | ") }.joined(separator: "\n"))
        let passed = lines.filter { $0.hasPrefix("ok - ") }.count
        #expect(passed >= 61, "only \(passed) checks passed:\n\(text)")
        #expect(process.terminationStatus == 0, "\(text)")
    }
}
