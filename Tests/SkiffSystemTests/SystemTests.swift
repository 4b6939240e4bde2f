// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import SkiffSystem
import Testing

@Suite("the system layer")
struct SystemTests {
    let directory = NSTemporaryDirectory() + "skiff-system-\(UUID().uuidString.prefix(8))"

    @Test func errorsSayTheStepTheErrnoAndTheDetail() {
        #expect(SystemError("opening /x", errno: ENOENT).description == "opening /x: No such file or directory")
        #expect(SystemError("opening /x", errno: ENOENT).reason == "no such file or directory")
        #expect(
            SystemError("adding address", errno: EEXIST, detail: "the kernel's words").description
                == "adding address: File exists (the kernel's words)")
        // No errno: a failure skiff found itself.
        #expect(SystemError("removing /c", errno: 0, detail: "processes [7] did not die").description == "removing /c: processes [7] did not die")
    }

    @Test func filesAreWrittenWholeAndReplacedAtomically() throws {
        _ = try makeDirectories(directory + "/a/b")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/a/b/state.json"
        try writeAtomically(Array("first".utf8), to: path)
        try writeAtomically(Array("second".utf8), to: path, mode: 0o600)
        #expect(try readFile(path) == Array("second".utf8))
        // No temporary file is left beside it.
        #expect(listDirectory(directory + "/a/b") == ["state.json"])
        #expect(throws: SystemError.self) { try writeFile([1], to: path, exclusive: true) }
        #expect((try? readFile(directory + "/missing")) == nil)
    }

    @Test func makeDirectoriesReturnsWhatItMade() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try makeDirectories(directory + "/x/y/z") == [directory, directory + "/x", directory + "/x/y", directory + "/x/y/z"])
        #expect(try makeDirectories(directory + "/x/y/z").isEmpty)
        #expect(throws: SystemError.self) { try makeDirectories("/proc/1/skiff-cannot-be-here") }
    }

    @Test func descriptorsAreClosedByTheirOwner() throws {
        var raw: Int32 = -1
        do {
            let file = try FileDescriptor(opening: "/dev/null", O_RDONLY, step: "opening /dev/null")
            raw = file.rawValue
            #expect(fcntl(raw, F_GETFD) >= 0)
            #expect(fcntl(raw, F_GETFD) & FD_CLOEXEC != 0)
        }
        #expect(fcntl(raw, F_GETFD) == -1 && errno == EBADF)
        let kept = try FileDescriptor(opening: "/dev/null", O_RDONLY, step: "opening /dev/null").release()
        #expect(fcntl(kept, F_GETFD) >= 0)
        close(kept)
    }

    @Test func theClockIsRFC3339() {
        let now = SystemClock.rfc3339(fractionDigits: 6)
        #expect(now.count == "2026-11-29T10:12:45.123456Z".count, "\(now)")
        #expect(now.hasSuffix("Z") && now.dropFirst(10).first == "T")
        #expect(SystemClock.rfc3339(fractionDigits: 0).count == "2026-11-29T10:12:45Z".count)
        #expect(Stopwatch().milliseconds >= 0)
    }

    /// The calendar arithmetic at the epoch, a second before it, 2000's leap day (a century
    /// rule alone would miss it), 2100's missing one, the end of 32-bit time and year 9999.
    @Test(arguments: [
        (Int64(0), 0, "1970-01-01T00:00:00.000000Z"), (-1, 999_999_999, "1969-12-31T23:59:59.999999Z"),
        (951_782_400, 5_000, "2000-02-29T00:00:00.000005Z"), (4_107_542_399, 0, "2100-02-28T23:59:59.000000Z"),
        (4_107_542_400, 0, "2100-03-01T00:00:00.000000Z"), (2_147_483_647, 0, "2038-01-19T03:14:07.000000Z"),
        (253_402_300_799, 123_456_789, "9999-12-31T23:59:59.123456Z"),
    ])
    func theClockCountsDaysAsTheCalendarDoes(seconds: Int64, nanoseconds: Int, expected: String) {
        #expect(SystemClock.rfc3339(seconds: seconds, nanoseconds: nanoseconds, fractionDigits: 6) == expected)
    }

    /// ...and glibc's gmtime_r's answer, every 97 days and some hours from 1950 to 3970.
    @Test func theClockAgreesWithGmtimeAcrossTheCalendar() {
        var seconds: Int64 = -86_400 * 365 * 20
        while seconds < 86_400 * 365 * 2_000 {
            var raw = time_t(seconds)
            var expected = tm()
            gmtime_r(&raw, &expected)
            let text = SystemClock.rfc3339(seconds: seconds, nanoseconds: 0, fractionDigits: 0)
            let fields = text.split(whereSeparator: { "-T:Z".contains($0) }).compactMap { Int($0) }
            let wanted = [
                Int(expected.tm_year) + 1900, Int(expected.tm_mon) + 1, Int(expected.tm_mday),
                Int(expected.tm_hour), Int(expected.tm_min), Int(expected.tm_sec),
            ]
            guard fields == wanted else {
                Issue.record("\(seconds): \(text), gmtime_r says \(wanted)")
                return
            }
            seconds += 86_399 * 97 + 13
        }
    }

    @Test func subprocessesRunAndReportTheirStatus() throws {
        let pid = try Subprocess.spawn("/bin/sh", ["-c", "exit 3"], streams: [0: .file("/dev/null", flags: O_RDONLY)])
        #expect(Subprocess.exitCode(Subprocess.wait(pid)) == 3)
        let killed = try Subprocess.spawn("/bin/sh", ["-c", "kill -9 $$"])
        #expect(Subprocess.exitCode(Subprocess.wait(killed)) == 137)
        #expect(throws: SystemError.self) { try Subprocess.spawn("/nonexistent/program", []) }
    }

    @Test func textIsTrimmedOfWhiteSpace() {
        #expect(" \t max 100000\n".trimmingWhitespace == "max 100000")
        #expect("No such file".lowercasedFirst == "no such file")
    }
}
