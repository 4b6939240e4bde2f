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

    static func run(_ hooks: [Spec.Hook], kind: String, state: JSONValue) throws(Failure) {
        let input = state.serializedBytes()
        for hook in hooks { try run(hook, kind: kind, input: input) }
    }

    static func run(_ hook: Spec.Hook, kind: String, input: [UInt8]) throws(Failure) {
        let what = "\(kind) hook \(hook.path)"
        // A socket, not a pipe: a hook that exits without reading its stdin must not kill skiff
        // with SIGPIPE (send with MSG_NOSIGNAL). Close-on-exec: the hook gets only its stdin.
        var pipeFds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pipeFds) == 0 else {
            throw Failure(description: "\(what): socketpair: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFds[0], 0)
        let argv = (hook.args?.isEmpty == false ? hook.args! : [hook.path]).map { strdup($0) } + [nil]
        let envp = (hook.env ?? []).map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, hook.path, &actions, &attributes, argv, envp)
        close(pipeFds[0])
        guard spawned == 0 else {
            close(pipeFds[1])
            throw Failure(description: "\(what): \(String(cString: strerror(spawned)))")
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
                kill(pid, SIGKILL)
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
