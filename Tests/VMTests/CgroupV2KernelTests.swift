import Foundation
import SkiffCgroups
import Testing

/// The cgroup v2 checks (vm/checks.sh) in a real cgroup v2 kernel: on this project's hybrid
/// hosts, Debian's kernel booted in qemu (vm/run); on a pure v2 host, directly.
@Suite("cgroup v2, in a real cgroup v2 kernel")
struct CgroupV2KernelTests {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    @Test(.timeLimit(.minutes(10))) func checksPass() throws {
        let skiff = Self.repository + "/.build/release/skiff"
        let process = Process()
        if CgroupSystem.current().isPureV2 {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = [Self.repository + "/vm/checks.sh"]
            process.environment = ["SKIFF": skiff, "ROOTFS": Self.repository + "/rootfs", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        } else {
            process.executableURL = URL(fileURLWithPath: Self.repository + "/vm/run")
            process.arguments = [skiff, Self.repository + "/.build/release/skiff-init", Self.repository + "/rootfs"]
        }
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
        let passed = lines.filter { $0.hasPrefix("ok - ") }.count
        #expect(passed >= 21, "only \(passed) checks passed:\n\(text)")
        #expect(process.terminationStatus == 0, "\(text)")
    }
}
