// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSystem

/// For a foreground `run`: the signals a user or supervisor sends to skiff go to the
/// container instead, and the container's exit becomes skiff's exit status.
final class SignalForwarder {
    /// What runc forwards too; SIGCHLD is not among them (we wait on a pidfd instead).
    static let forwarded: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGCONT, SIGWINCH]

    private var previousMask = sigset_t()
    private var signals: SharedDescriptor?
    private var fd: Int32 { signals?.rawValue ?? -1 }

    /// Blocks the forwarded signals (they queue on a signalfd). skiff-init unblocks them
    /// again before the container's execve.
    init() throws(RuntimeError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in Self.forwarded { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, &previousMask)
        do { signals = SharedDescriptor(try FileDescriptor(checking: signalfd(-1, &set, Int32(SFD_CLOEXEC)), step: "creating a signalfd")) } catch {
            pthread_sigmask(SIG_SETMASK, &previousMask, nil)
            throw .system(error)
        }
    }

    func restore() {
        signals = nil
        pthread_sigmask(SIG_SETMASK, &previousMask, nil)
    }

    /// Forward signals until `pid` exits; returns its status as a shell reports it.
    /// With a `relay`, also copies terminal bytes both ways and keeps the window size.
    func wait(for pid: Int32, pidfd: Int32, relay: TerminalRelay? = nil) -> Int32 {
        var stdinOpen = relay != nil
        var masterOpen = relay != nil
        while true {
            var fds = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: pidfd, events: Int16(pidfd >= 0 ? POLLIN : 0), revents: 0),
                pollfd(fd: stdinOpen ? STDIN_FILENO : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: masterOpen ? relay!.master : -1, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, nfds_t(fds.count), pidfd >= 0 ? -1 : 50)
            if ready < 0, errno != EINTR { break }
            if let relay {
                if masterOpen, fds[3].revents != 0 { masterOpen = TerminalRelay.pump(relay.master, STDOUT_FILENO) }
                if stdinOpen, fds[2].revents != 0 { stdinOpen = TerminalRelay.pump(STDIN_FILENO, relay.master) }
            }
            if fds[0].revents & Int16(POLLIN) != 0 {
                var info = signalfd_siginfo()
                if read(fd, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size {
                    if Int32(info.ssi_signo) == SIGWINCH, let relay { relay.resize() } else { Glibc.kill(pid, Int32(info.ssi_signo)) }
                }
            }
            if pidfd < 0 || fds[1].revents != 0 {
                var status: Int32 = 0
                let reaped = waitpid(pid, &status, pidfd >= 0 ? 0 : WNOHANG)
                if reaped == pid {
                    // What the process wrote last is still in the pty: pass it on.
                    if let relay, masterOpen {
                        var drain = [pollfd(fd: relay.master, events: Int16(POLLIN), revents: 0)]
                        while poll(&drain, 1, 0) > 0, drain[0].revents & Int16(POLLIN) != 0, TerminalRelay.pump(relay.master, STDOUT_FILENO) {}
                    }
                    return Subprocess.exitCode(status)
                }
                if reaped < 0 && errno == ECHILD { return 255 }
            }
        }
        return 255
    }
}
