// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffRuntime
import SkiffSpec
import SkiffSystem

let commands: [Command] = lifecycleCommands + [execCommand] + resourceCommands + checkpointCommands + [checkCommand]

let lifecycleCommands: [Command] = [
    Command(
        name: "create", summary: "create a container; its process waits for `start`", usage: "<container-id>",
        positionals: 1...1, options: createOptions
    ) { args, context in
        try context.runtime.create(id: args.positionals[0], options: try createOptionsFrom(args))
        return 0
    },
    Command(
        name: "start", summary: "start the process of a created container", usage: "<container-id>",
        positionals: 1...1
    ) { args, context in
        try context.runtime.start(id: args.positionals[0])
        return 0
    },
    Command(
        name: "state", summary: "print the OCI state of a container as JSON", usage: "<container-id>",
        positionals: 1...1
    ) { args, context in
        print(try context.runtime.state(id: args.positionals[0]).jsonValue.serialized(pretty: true))
        return 0
    },
    Command(
        name: "kill", summary: "send a signal (default SIGTERM) to a container", usage: "<container-id> [signal]",
        positionals: 1...2, options: [.flag("all", short: "a", "signal every process in the container's cgroup")]
    ) { args, context in
        let name = args.positionals.count > 1 ? args.positionals[1] : "SIGTERM"
        // 0 sends nothing and says whether the container's process is there (runc takes it).
        guard let signal = name == "0" ? 0 : LinuxNames.signal(name) else { throw UsageError(description: "unknown signal \"\(name)\"") }
        try context.runtime.kill(id: args.positionals[0], signal: signal, all: args.has("all"))
        return 0
    },
    Command(
        name: "delete", summary: "delete a container and everything it holds", usage: "<container-id>",
        positionals: 1...1, options: [.flag("force", short: "f", "kill a running container first; succeed if it does not exist")]
    ) { args, context in
        try context.runtime.delete(id: args.positionals[0], force: args.has("force"))
        return 0
    },
    Command(
        name: "run", summary: "create and start a container, wait for it and delete it (unless detached)",
        usage: "<container-id>", positionals: 1...1,
        options: createOptions + [.flag("detach", short: "d", "return once the process runs, leaving it running")]
    ) { args, context in
        try context.runtime.run(id: args.positionals[0], options: try createOptionsFrom(args), detach: args.has("detach"))
    },
    Command(
        name: "list", summary: "list containers", usage: "", positionals: 0...0,
        options: [
            .value("format", short: "f", "FORMAT", "table or json (default table)"),
            .flag("quiet", short: "q", "print only the ids"),
        ]
    ) { args, context in
        try list(args, context)
        return 0
    },
    Command(
        name: "features", summary: "print what this runtime supports (runtime-spec features JSON)", usage: "",
        positionals: 0...0
    ) { _, _ in
        print(Runtime.features().serialized(pretty: true))
        return 0
    },
    Command(
        name: "spec", summary: "write a default config.json into the bundle", usage: "", positionals: 0...0,
        options: [
            .value("bundle", short: "b", "DIR", "the bundle directory (default .)"),
            .flag("rootless", "for an unprivileged user: a user namespace mapping root to you"),
        ]
    ) { args, _ in
        try writeSpec(bundle: args["bundle"] ?? ".", rootless: args.has("rootless"))
        return 0
    },
]

func createOptionsFrom(_ args: Arguments) throws(UsageError) -> CreateOptions {
    var options = CreateOptions(bundle: args["bundle"] ?? ".", pidFile: args["pid-file"].map(absolutePath))
    options.noPivot = args.has("no-pivot")
    options.noNewKeyring = args.has("no-new-keyring")
    options.preserveFds = try args.integer("preserve-fds", default: 0)
    options.consoleSocket = args["console-socket"]
    options.pidfdSocket = args["pidfd-socket"]
    return options
}

func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return path }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
}

func list(_ args: Arguments, _ context: Context) throws(UsageError) {
    let format = args["format"] ?? "table"
    guard format == "table" || format == "json" else { throw UsageError(description: "--format: expected table or json, got \"\(format)\"") }
    let states = context.runtime.list()
    if args.has("quiet") {
        states.forEach { print($0.id) }
    } else if format == "json" {
        print(JSONValue.array(states.map(\.jsonValue)).serialized())
    } else {
        var rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        rows += states.map { [$0.id, String($0.pid), $0.status.rawValue, $0.bundle, $0.created, $0.owner] }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            print(
                row.enumerated().map { i, cell in
                    i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 3)
                }.joined())
        }
    }
}

func writeSpec(bundle: String, rootless: Bool) throws(UsageError) {
    let path = bundle + "/config.json"
    if access(path, F_OK) == 0 { throw UsageError(description: "\(path) already exists: remove it first") }
    var bytes = SpecLoader.encode(rootless ? .rootlessSpec(uid: geteuid(), gid: getegid()) : .defaultSpec())
    bytes.append(UInt8(ascii: "\n"))
    do throws(SystemError) { try writeFile(bytes, to: path, exclusive: true) } catch { throw UsageError(description: error.description) }
}
