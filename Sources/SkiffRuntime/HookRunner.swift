// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// Runs hooks in the runtime's namespaces (prestart, createRuntime, poststart, poststop):
/// the state JSON on stdin, the hook's own args and env, killed after its timeout.
/// (createContainer and startContainer run inside the container: skiff-init runs those.)
enum HookRunner {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `hooks` in order; the first failure stops the rest (prestart, createRuntime).
    static func run(_ hooks: [Spec.Hook], kind: String, state: JSONValue) throws(Failure) {
        let input = state.serializedBytes()
        for hook in hooks { try run(hook, kind: kind, input: input) }
    }

    /// Runs every hook even when one fails (poststart, poststop: the runtime spec makes their
    /// failures warnings, and the remaining hooks still run); returns the failures.
    static func runAll(_ hooks: [Spec.Hook], kind: String, state: JSONValue) -> [Failure] {
        let input = state.serializedBytes()
        var failures: [Failure] = []
        for hook in hooks {
            do throws(Failure) { try run(hook, kind: kind, input: input) } catch { failures.append(error) }
        }
        return failures
    }

    static func run(_ hook: Spec.Hook, kind: String, input: [UInt8]) throws(Failure) {
        let what = "\(kind) hook \(hook.path)"
        // execve's own errors show as exit status 127; the common one is said up front.
        guard access(hook.path, X_OK) == 0 else { throw Failure(description: SystemError(what, errno: errno).description) }
        // A socket, not a pipe: a hook that exits without reading its stdin must not kill skiff
        // with SIGPIPE (send with MSG_NOSIGNAL). Close-on-exec: the hook gets only its stdin.
        let pair: SocketPair
        do { pair = try SocketPair(Int32(SOCK_STREAM.rawValue), step: "\(what): socketpair") } catch { throw Failure(description: error.description) }
        let ours = pair.ours
        let pid: pid_t
        do {
            let theirs = pair.theirs
            let argv = (hook.args?.isEmpty == false ? hook.args! : [hook.path]).map { strdup($0) } + [nil]
            let envp = (hook.env ?? []).map { strdup($0) } + [nil]
            defer { (argv + envp).forEach { free($0) } }
            pid = skiff_spawn_hook(hook.path, argv, envp, theirs.rawValue)
            guard pid > 0 else { throw Failure(description: SystemError(what, errno: errno).description) }
        }
        _ = input.withUnsafeBytes { send(ours.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        _ = consume ours  // end of its stdin
        // Wait, up to the timeout, on a pidfd.
        if let timeout = hook.timeout, case let pidfd = skiff_pidfd_open(pid), pidfd >= 0 {
            let owned = FileDescriptor(adopting: pidfd)
            var fds = [pollfd(fd: owned.rawValue, events: Int16(POLLIN), revents: 0)]
            var ready: Int32
            repeat { ready = poll(&fds, 1, Int32(min(timeout, 1_000_000)) * 1000) } while ready < 0 && errno == EINTR
            if ready == 0 {
                kill(-pid, SIGKILL)  // its process group: whatever it started too
                _ = Subprocess.wait(pid)
                throw Failure(description: "\(what): did not finish within \(timeout) s")
            }
        }
        let code = Subprocess.exitCode(Subprocess.wait(pid))
        if code != 0 { throw Failure(description: "\(what): exited with status \(code)") }
    }
}
