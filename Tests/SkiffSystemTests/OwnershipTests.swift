// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import SkiffSystem
import Testing

/// Locks, socket pairs and shared descriptors: each object is released by its owner, on every
/// path, and nothing else can release it.
@Suite("owned descriptors and locks")
final class OwnershipTests {
    let path = NSTemporaryDirectory() + "skiff-lock-\(UUID().uuidString.prefix(8))"

    init() { _ = FileManager.default.createFile(atPath: path, contents: nil) }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func open() throws -> FileDescriptor { try FileDescriptor(opening: path, O_RDONLY, step: "opening \(path)") }

    @Test func anExclusiveLockKeepsOthersOutUntilItGoes() throws {
        do {
            let held = try FileLock(path: path, mode: .exclusive, step: "locking")
            #expect(held.rawValue >= 0)
            let second = try FileLock.attempt(try open(), .exclusive, step: "locking")
            let refused = second == nil
            #expect(refused)
            #expect(FileLock.isHeld(try open(), against: .shared))
        }
        // Gone with its value: the next one gets it at once.
        #expect(!FileLock.isHeld(try open(), against: .exclusive))
    }

    @Test func sharedLocksShareButKeepAnExclusiveOut() throws {
        let first = try FileLock(path: path, mode: .shared, step: "locking")
        let second = try FileLock.attempt(try open(), .shared, step: "locking")
        let shared = second != nil
        #expect(shared)
        #expect(FileLock.isHeld(try open(), against: .exclusive))
        #expect(!FileLock.isHeld(try open(), against: .shared))
        _ = consume second
        _ = consume first
    }

    @Test func unlockReleasesAtOnce() throws {
        let lock = try FileLock(path: path, mode: .exclusive, step: "locking")
        #expect(FileLock.isHeld(try open(), against: .exclusive))
        lock.unlock()
        #expect(!FileLock.isHeld(try open(), against: .exclusive))
    }

    @Test func aLockOnAPathThatIsNotThereSaysTheStep() {
        #expect(throws: SystemError("locking /nonexistent/x", errno: ENOENT)) {
            _ = try FileLock(path: "/nonexistent/x", mode: .exclusive, step: "locking /nonexistent/x")
        }
    }

    @Test func aFailedCallIsItsErrnoNotADescriptor() {
        errno = 0
        #expect(throws: SystemError("opening", errno: EMFILE)) {
            errno = EMFILE
            _ = try FileDescriptor(checking: -1, step: "opening")
        }
        let adopted = try? FileDescriptor(checking: dup(STDIN_FILENO), step: "dup")
        let owned = adopted != nil
        #expect(owned)
    }

    @Test func bothEndsOfASocketPairAreOwnedAndConnected() throws {
        var ours: Int32 = -1, theirs: Int32 = -1
        do {
            let pair = try SocketPair(Int32(SOCK_STREAM.rawValue), step: "socketpair")
            ours = pair.ours.rawValue
            theirs = pair.theirs.rawValue
            try pair.ours.write(Array("ping".utf8), step: "writing")
            var buffer = [UInt8](repeating: 0, count: 4)
            #expect(read(theirs, &buffer, 4) == 4)
            #expect(buffer == Array("ping".utf8))
            #expect(fcntl(ours, F_GETFD) & FD_CLOEXEC != 0 && fcntl(theirs, F_GETFD) & FD_CLOEXEC != 0)
        }
        #expect(fcntl(ours, F_GETFD) == -1 && fcntl(theirs, F_GETFD) == -1)
    }

    @Test func aSharedDescriptorClosesWithItsLastOwner() throws {
        var raw: Int32 = -1
        do {
            let shared = SharedDescriptor(try open())
            raw = shared.rawValue
            let another = shared
            #expect(fcntl(another.rawValue, F_GETFD) >= 0)
        }
        #expect(fcntl(raw, F_GETFD) == -1 && errno == EBADF)
    }

    @Test func theKernelsWordsComeFromOnePlace() {
        #expect(SystemError.text(of: ENOENT) == "No such file or directory")
        #expect(SystemError("x", errno: EACCES).reason == "permission denied")
        #expect(SystemError("reading", errno: 0, detail: "short").description == "reading: short")
        #expect(SystemError("", errno: EPERM).description == "Operation not permitted")
    }
}
