import ArgumentParser
import Glibc
import SkiffRuntime

@main
struct Skiff: ParsableCommand {
    /// runc takes its global flags before the command (`runc --root R create ...`), and
    /// containerd and podman call it that way; ArgumentParser wants options after the
    /// command name, so move them there.
    static func main() {
        main(GlobalOptions.movingGlobalsAfterCommand(Array(CommandLine.arguments.dropFirst())))
    }

    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "A low-level OCI container runtime (runc-compatible command line).",
        version: "skiff version \(version)\nspec: 1.2.0",
        subcommands: [Create.self, Start.self, State.self, Kill.self, Delete.self, Run.self, List.self, SpecCommand.self]
    )
}

/// runc's global flags. They may be given before or after the command name.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Directory for container state.")
    var root: String = "/run/skiff"

    @Option(help: "Also write log messages to this file.")
    var log: String?

    @Option(name: .customLong("log-format"), help: "Log file format: text or json.")
    var logFormat: String = "text"

    @Flag(help: "Log debug messages.")
    var debug = false

    /// Global options that take a value, and those that do not.
    static let valued: Set<String> = ["--root", "--log", "--log-format"]
    static let flags: Set<String> = ["--debug"]

    static func movingGlobalsAfterCommand(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if valued.contains(name) {
                globals.append(argument)
                if !argument.contains("="), index + 1 < arguments.count {
                    globals.append(arguments[index + 1])
                    index += 1
                }
            } else if flags.contains(argument) {
                globals.append(argument)
            } else {
                break
            }
            index += 1
        }
        guard index < arguments.count, !globals.isEmpty else { return arguments }
        return [arguments[index]] + globals + arguments[(index + 1)...]
    }

    func validate() throws {
        guard Log.Format(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format: expected text or json, got \"\(logFormat)\"")
        }
    }

    var logger: Log { Log(file: log, format: Log.Format(rawValue: logFormat) ?? .text, debug: debug) }

    var runtime: Runtime {
        let log = logger
        let warn: @Sendable (String) -> Void = { log.warning($0) }
        let logDebug: @Sendable (String) -> Void = { log.debug($0) }
        let trace = debug ? logDebug : nil
        return Runtime(root: root, warn: warn, debug: trace)
    }

    /// Runs `body`, turning a runtime error into one logged line and exit status 1.
    func perform<T>(_ body: () throws(RuntimeError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            logger.error(error.description)
            throw ExitCode.failure
        }
    }
}

/// Flags shared by `create` and `run`.
struct CreateFlags: ParsableArguments {
    @Option(name: [.short, .long], help: "Path to the bundle directory (holding config.json).")
    var bundle: String = "."

    @Option(name: .customLong("pid-file"), help: "Write the container's pid to this file (no trailing newline).")
    var pidFile: String?

    @Option(name: .customLong("console-socket"), help: "AF_UNIX socket to send the console's pty master to.")
    var consoleSocket: String?

    @Flag(name: .customLong("no-pivot"), help: "Use MS_MOVE and chroot instead of pivot_root (for a rootfs on ramfs).")
    var noPivot = false

    @Flag(name: .customLong("no-new-keyring"), help: "Do not create a new session keyring (skiff never does).")
    var noNewKeyring = false

    @Option(name: .customLong("preserve-fds"), help: "Pass this many descriptors after stdio (3, 4, ...) to the container.")
    var preserveFds: Int = 0

    func validate() throws {
        if preserveFds < 0 { throw ValidationError("--preserve-fds: must not be negative") }
    }

    var options: CreateOptions {
        var options = CreateOptions(bundle: bundle, pidFile: pidFile.map(absolute))
        options.noPivot = noPivot
        options.noNewKeyring = noNewKeyring
        options.preserveFds = preserveFds
        options.consoleSocket = consoleSocket
        return options
    }

    private func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        return String(cString: buffer) + "/" + path
    }
}
