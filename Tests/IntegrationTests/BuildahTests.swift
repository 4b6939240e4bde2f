import Foundation
import Testing

/// skiff under Debian's buildah, as `--runtime`: `buildah run` in a working container, and
/// `buildah bud` of a Containerfile whose RUN steps each run in a skiff container, the image
/// holding what they wrote. buildah's configs list ambient capabilities without the
/// inheritable set: skiff skips them with one warning and runs (runc and crun do the same).
@Suite("under buildah", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/buildah")))
final class BuildahTests {
    let directory = Harness.temporaryDirectory("skiff-buildah")

    var buildah: String { "buildah --root \(directory)/storage --runroot \(directory)/run --storage-driver vfs" }

    deinit {
        _ = try? shell("\(buildah) rm -a; \(buildah) rmi -a -f")
        try? FileManager.default.removeItem(atPath: directory)
    }

    func shell(_ command: String) throws -> (status: Int32, output: String) {
        try PodmanTests.Shell().run(command, in: directory)
    }

    /// A working container holding the project's rootfs (no registry is reachable).
    func workingContainer(_ name: String) throws {
        let made = try shell(
            "\(buildah) from --name \(name) scratch && m=$(\(buildah) mount \(name)) && tar -C \(Harness.rootfs) -c . | tar -C $m -x && \(buildah) umount \(name)")
        #expect(made.status == 0, "\(made.output)")
    }

    @Test func runInAWorkingContainer() throws {
        try workingContainer("w1")
        let run = try shell("\(buildah) run --runtime \(Harness.skiff) w1 -- sh -c 'echo hello from buildah; echo made > /made'")
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("hello from buildah"), "\(run.output)")
        #expect(run.output.components(separatedBy: "process.capabilities.ambient").count == 2, "one warning: \(run.output)")
        let made = try shell("m=$(\(buildah) mount w1) && cat $m/made")
        #expect(made.output.trimmingCharacters(in: .whitespacesAndNewlines) == "made")
        let failing = try shell("\(buildah) run --runtime \(Harness.skiff) w1 -- sh -c 'exit 7'")
        #expect(failing.status != 0)
    }

    @Test func budRunsEveryStepInSkiff() throws {
        try workingContainer("base")
        #expect(try shell("\(buildah) commit base localhost/skiff-base").status == 0)
        try FileManager.default.createDirectory(atPath: directory + "/context", withIntermediateDirectories: true)
        try "FROM localhost/skiff-base\nRUN echo one > /one\nRUN cat /one > /two && echo two >> /two\nRUN id -u > /uid\n"
            .write(toFile: directory + "/context/Containerfile", atomically: true, encoding: .utf8)
        let built = try shell("\(buildah) bud --runtime \(Harness.skiff) -t localhost/built -f \(directory)/context/Containerfile \(directory)/context")
        #expect(built.status == 0, "\(built.output)")
        let contents = try shell("\(buildah) from --name check localhost/built > /dev/null && m=$(\(buildah) mount check) && cat $m/two $m/uid")
        #expect(contents.output.split(separator: "\n") == ["one", "two", "0"], "\(contents.output)")
    }
}
