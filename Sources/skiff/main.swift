// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffCgroups
import SkiffRuntime
import SkiffSpec

let version = Runtime.version

func printHelp(_ command: Command?) {
    if let command {
        print("usage: skiff [global options] \(command.name) [options] \(command.usage)\n\n\(command.summary)\n")
        if !command.options.isEmpty { print("options:\n" + OptionSpec.helpText(command.options)) }
        return
    }
    let width = commands.map(\.name.count).max()! + 3
    print(
        """
        skiff \(version): a low-level OCI container runtime with runc's command line

        usage: skiff [global options] <command> [options] [arguments]

        commands:
        \(commands.map { "  " + $0.name + String(repeating: " ", count: width - $0.name.count) + $0.summary }.joined(separator: "\n"))

        global options:
        \(OptionSpec.helpText(globalOptions))

        `skiff <command> --help` shows a command's options.
        """)
}

/// Splits argv into global options, the command, and the command's arguments, runs it, and
/// turns every error into one logged line and exit status 1.
func main() -> Int32 {
    // A reader that went away (a closed pipe on stderr, a hook that ignored its stdin) is an
    // error to report, not a reason to die half-way through a create. Children get the default
    // back (skiff-init resets every signal; hooks are spawned with SIGPIPE at default).
    signal(SIGPIPE, SIG_IGN)
    if CNIEntry.isPluginCall { return CNIEntry.run() }
    let argv = CommandLine.arguments.dropFirst()
    // Global options may come before the command name.
    var log = Log()
    let commandIndex = indexOfCommand(argv)
    let global: Arguments
    do {
        global = try Arguments.parse(argv[argv.startIndex..<commandIndex], options: globalOptions)
    } catch {
        log.error(error.description)
        return 1
    }
    if global.has("version") {
        print(
            "skiff version \(version)\nspec: \(Spec.version)\n\(CgroupSystem.current().layout)\ncgroup drivers: \(CgroupDrivers.available.joined(separator: ", ")) (--systemd-cgroup)"
        )
        return 0
    }
    guard commandIndex < argv.endIndex else {
        printHelp(nil)
        return global.has("help") ? 0 : 1
    }
    let name = argv[commandIndex]
    if name == "help" {
        printHelp(commands.first { $0.name == argv.dropFirst(commandIndex - argv.startIndex + 1).first })
        return 0
    }
    guard let command = commands.first(where: { $0.name == name }) else {
        log.error("unknown command \"\(name)\" (see skiff --help)")
        return 1
    }
    do {
        var args = try Arguments.parse(
            argv[(commandIndex + 1)...], options: command.options + globalOptions,
            optionsEndAfter: command.optionsEndAfter)
        // The command's own options after the global ones: its value wins.
        args.given = global.given + args.given
        if args.has("help") {
            printHelp(command)
            return 0
        }
        log = try Log(args)
        if let rootless = args["rootless"], !["true", "false", "auto"].contains(rootless) {
            throw UsageError(description: "--rootless: expected true, false or auto, got \"\(rootless)\"")
        }
        guard command.positionals.contains(args.positionals.count) else {
            throw UsageError(description: "\(command.name): expected \(command.usage.isEmpty ? "no arguments" : command.usage) (see skiff \(command.name) --help)")
        }
        let logger = log
        let warn: @Sendable (String) -> Void = { logger.warning($0) }
        let debug: @Sendable (String) -> Void = { logger.debug($0) }
        var runtime = Runtime(root: args["root"] ?? StateStore.defaultRoot, warn: warn, debug: args.has("debug") ? debug : nil)
        runtime.note = { logger.info($0) }
        runtime.cgroupDriver = args.has("systemd-cgroup") ? SystemdDriver.name : CgroupfsDriver.name
        return try command.action(args, Context(log: log, runtime: runtime))
    } catch let error as RuntimeError {
        log.error(error.description)
    } catch {
        log.error("\(error)")
    }
    return command.failureStatus
}

/// The first argument that is not a global option (or a global option's value).
func indexOfCommand(_ argv: ArraySlice<String>) -> Int {
    var index = argv.startIndex
    while index < argv.endIndex {
        let argument = argv[index]
        guard argument.hasPrefix("-") else { return index }
        let name = argument.hasPrefix("--") ? String(argument.dropFirst(2).split(separator: "=").first ?? "") : ""
        if let spec = globalOptions.first(where: { $0.long == name }), spec.value != nil, !argument.contains("=") {
            index += 1
        }
        index += 1
    }
    return index
}

exit(main())
