import ArgumentParser
import FoundationEssentials
import Glibc
import SkiffRuntime
import SkiffSpec

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a container; its process waits for `start`.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var flags: CreateFlags
    @Argument(help: "The container id.") var id: String

    func run() throws {
        try globals.perform { () throws(RuntimeError) in try globals.runtime.create(id: id, options: flags.options) }
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the process of a created container.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The container id.") var id: String

    func run() throws {
        try globals.perform { () throws(RuntimeError) in try globals.runtime.start(id: id) }
    }
}

struct State: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the OCI state of a container as JSON.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The container id.") var id: String

    func run() throws {
        let state = try globals.perform { () throws(RuntimeError) in try globals.runtime.state(id: id) }
        print(JSONText.pretty(state))
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal (default SIGTERM) to a container's process.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: [.short, .long], help: "Signal every process in the container's cgroup.") var all = false
    @Argument(help: "The container id.") var id: String
    @Argument(help: "Signal name (TERM, SIGKILL) or number.") var signal: String = "SIGTERM"

    func run() throws {
        guard let number = LinuxNames.signal(signal) else {
            globals.logger.error("unknown signal \"\(signal)\"")
            throw ExitCode.failure
        }
        try globals.perform { () throws(RuntimeError) in try globals.runtime.kill(id: id, signal: number, all: all) }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a container and everything it holds.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: [.short, .long], help: "Kill a running container first; succeed if it does not exist.") var force = false
    @Argument(help: "The container id.") var id: String

    func run() throws {
        try globals.perform { () throws(RuntimeError) in try globals.runtime.delete(id: id, force: force) }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create and start a container; wait for it and delete it unless detached.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var flags: CreateFlags
    @Flag(name: [.short, .long], help: "Return once the process runs, leaving it running.") var detach = false
    @Argument(help: "The container id.") var id: String

    func run() throws {
        let status = try globals.perform { () throws(RuntimeError) in
            try globals.runtime.run(id: id, options: flags.options, detach: detach)
        }
        if status != 0 { throw ExitCode(status) }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List containers.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: [.short, .long], help: "table or json.") var format: String = "table"
    @Flag(name: [.short, .long], help: "Print only the ids.") var quiet = false

    func validate() throws {
        guard ["table", "json"].contains(format) else { throw ValidationError("--format: expected table or json, got \"\(format)\"") }
    }

    func run() throws {
        let states = globals.runtime.list()
        if quiet {
            states.forEach { print($0.id) }
        } else if format == "json" {
            print(JSONText.compact(states))
        } else {
            var rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
            rows += states.map { [$0.id, String($0.pid), $0.status.rawValue, $0.bundle, $0.created, $0.owner] }
            let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max()! }
            for row in rows {
                print(row.enumerated().map { i, cell in
                    i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 3)
                }.joined())
            }
        }
    }
}

struct SpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spec", abstract: "Write a default config.json into the bundle.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: [.short, .long], help: "The bundle directory.") var bundle: String = "."

    func run() throws {
        let path = bundle + "/config.json"
        if access(path, F_OK) == 0 {
            globals.logger.error("\(path) already exists: remove it first")
            throw ExitCode.failure
        }
        var bytes = SpecLoader.encode(.defaultSpec())
        bytes.append(UInt8(ascii: "\n"))
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0, bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            globals.logger.error("writing \(path): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        close(fd)
    }
}

enum JSONText {
    static func pretty<T: Encodable>(_ value: T) -> String { encode(value, [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) }
    static func compact<T: Encodable>(_ value: T) -> String { encode(value, [.sortedKeys, .withoutEscapingSlashes]) }

    private static func encode<T: Encodable>(_ value: T, _ formatting: JSONEncoder.OutputFormatting) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = formatting
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}
