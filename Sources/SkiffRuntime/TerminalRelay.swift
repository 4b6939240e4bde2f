// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSystem

/// A foreground `run` with a terminal and no console socket: skiff is the console. It takes
/// the pty master, puts its own terminal in raw mode (restored on exit), keeps the window
/// size in step (SIGWINCH), and copies bytes both ways.
final class TerminalRelay {
    private let masterDescriptor: FileDescriptor
    var master: Int32 { masterDescriptor.rawValue }
    private var saved = termios()
    private var raw = false

    init(master: consuming FileDescriptor) {
        masterDescriptor = master
        if isatty(STDIN_FILENO) != 0, tcgetattr(STDIN_FILENO, &saved) == 0 {
            var attributes = saved
            cfmakeraw(&attributes)
            raw = tcsetattr(STDIN_FILENO, TCSANOW, &attributes) == 0
        }
        resize()
    }

    deinit {
        if raw { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
    }

    /// Give the pty the size of our terminal.
    func resize() {
        var size = winsize()
        // A terminal that reports no size keeps process.consoleSize.
        if ioctl(STDIN_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 {
            _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        }
    }

    /// Copy what is readable on `from` to `to`; false at end of input.
    static func pump(_ from: Int32, _ to: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = read(from, &buffer, buffer.count)
        if n <= 0 { return n < 0 && errno == EINTR }
        var offset = 0
        while offset < n {
            let written = buffer[offset..<n].withUnsafeBytes { write(to, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    /// Receive the master that skiff-init sent over the console socket (a socketpair).
    static func receiveMaster(from socket: Int32) throws(RuntimeError) -> FileDescriptor {
        var name = [UInt8](repeating: 0, count: 64)
        var fd: Int32 = -1
        let n = name.withUnsafeMutableBytes { skiff_receive_message(socket, $0.baseAddress, $0.count, &fd) }
        let code = errno
        // A descriptor that arrived is ours to close even with a short message.
        let master = fd >= 0 ? FileDescriptor(adopting: fd) : nil
        guard n > 0, let master else { throw .system("receiving the terminal from skiff-init", n < 0 ? code : EPROTO) }
        return master
    }
}
