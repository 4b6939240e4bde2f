import CShims
import Glibc
import SkiffSpec

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
        // A socket, not a pipe: a hook that exits without reading its stdin must not kill skiff
        // with SIGPIPE (send with MSG_NOSIGNAL). Close-on-exec: the hook gets only its stdin.
        var pipeFds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pipeFds) == 0 else {
            throw Failure(description: "\(what): socketpair: \(String(cString: strerror(errno)))")
        }
        let argv = (hook.args?.isEmpty == false ? hook.args! : [hook.path]).map { strdup($0) } + [nil]
        let envp = (hook.env ?? []).map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        // execve's own errors show as exit status 127; the common one is said up front.
        guard access(hook.path, X_OK) == 0 else {
            close(pipeFds[0])
            close(pipeFds[1])
            throw Failure(description: "\(what): \(String(cString: strerror(errno)))")
        }
        let pid = skiff_spawn_hook(hook.path, argv, envp, pipeFds[0])
        let spawnError = errno
        close(pipeFds[0])
        guard pid > 0 else {
            close(pipeFds[1])
            throw Failure(description: "\(what): \(String(cString: strerror(spawnError)))")
        }
        _ = input.withUnsafeBytes { send(pipeFds[1], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(pipeFds[1])
        // Wait, up to the timeout, on a pidfd.
        let pidfd = skiff_pidfd_open(pid)
        defer { if pidfd >= 0 { close(pidfd) } }
        if let timeout = hook.timeout, pidfd >= 0 {
            var fds = [pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
            var ready: Int32
            repeat { ready = poll(&fds, 1, Int32(min(timeout, 1_000_000)) * 1000) } while ready < 0 && errno == EINTR
            if ready == 0 {
                kill(-pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                throw Failure(description: "\(what): did not finish within \(timeout) s")
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = SignalForwarder.exitCode(status)
        if code != 0 { throw Failure(description: "\(what): exited with status \(code)") }
    }
}
