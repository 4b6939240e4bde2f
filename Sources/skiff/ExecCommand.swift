// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffRuntime
import SkiffSpec
import SkiffSystem

let execCommand = Command(
    name: "exec", summary: "run another process in a running container",
    usage: "<container-id> [command [args...]]", positionals: 1...Int.max,
    options: [
        .value("process", short: "p", "FILE", "the process as OCI JSON (instead of a command and flags)"),
        .value("cwd", "DIR", "working directory in the container"),
        .value("env", short: "e", "KEY=VALUE", "add an environment variable (repeatable)"),
        .value("user", short: "u", "UID[:GID]", "the user to run as"),
        .value("additional-gids", short: "g", "GID", "an additional group (repeatable)"),
        .value("cap", short: "c", "CAP", "add a capability to the bounding, effective and permitted sets (repeatable)"),
        .flag("no-new-privs", "set no_new_privs"),
        .value("apparmor", "PROFILE", "AppArmor profile for the process (refused where AppArmor is not enabled)"),
        .value("process-label", "LABEL", "SELinux label (an error where SELinux is not enabled)"),
        .flag("tty", short: "t", "allocate a terminal (its master goes to --console-socket, or skiff relays it)"),
        .value("console-socket", "SOCKET", "AF_UNIX socket to send the terminal's master to"),
        .flag("detach", short: "d", "return once the process runs"),
        .value("pid-file", "FILE", "write the process's pid to FILE (no trailing newline)"),
        .value("preserve-fds", "N", "pass N descriptors after stdio to the process"),
        .value("pidfd-socket", "SOCKET", "AF_UNIX socket to send the process's pidfd to"),
        .flag("ignore-paused", "exec into a paused container (the process starts frozen)"),
        .value("cgroup", "PATH", "run in this existing sub-cgroup of the container's cgroup"),
    ],
    optionsEndAfter: 2
) { args, context in
    try runExec(args, context)
}

func runExec(_ args: Arguments, _ context: Context) throws -> Int32 {
    let id = args.positionals[0]
    var process: Spec.Process
    if let file = args["process"] {
        let bytes: [UInt8]
        do throws(SystemError) { bytes = try readFile(file) } catch { throw UsageError(description: "--process \(file): \(error.reason)") }
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch {
            throw UsageError(description: "--process \(file): line \(error.line), column \(error.column): \(error.message)")
        }
        process = try Spec.Process(jsonValue: value, path: JSONPath("process"))
    } else {
        guard args.positionals.count > 1 else { throw UsageError(description: "exec: a command or --process is required") }
        process = try processFromFlags(args, context)
    }
    if args.has("tty") { process.terminal = true }
    var options = ExecOptions()
    options.detach = args.has("detach")
    options.pidFile = args["pid-file"].map(absolutePath)
    options.preserveFds = try args.integer("preserve-fds", default: 0)
    options.consoleSocket = args["console-socket"]
    options.pidfdSocket = args["pidfd-socket"]
    options.ignorePaused = args.has("ignore-paused")
    options.subCgroup = args["cgroup"].flatMap { $0.isEmpty ? nil : $0 }
    // runc's flags: the exec'd process's own AppArmor profile and SELinux label (refused by
    // the runtime where the module is not enabled).
    if let profile = args["apparmor"], !profile.isEmpty { process.apparmorProfile = profile }
    if let label = args["process-label"], !label.isEmpty { process.selinuxLabel = label }
    return try context.runtime.exec(id: id, process: process, options: options)
}

/// runc's rule: the container's own process (user, env, cwd, capabilities, rlimits,
/// no_new_privs), with the command and the flags on top.
func processFromFlags(_ args: Arguments, _ context: Context) throws -> Spec.Process {
    let id = args.positionals[0]
    let state = try context.runtime.state(id: id)
    let spec: Spec
    do { spec = try SpecLoader.load(bundle: state.bundle) } catch { throw RuntimeError.spec(error) }
    var process = spec.process!
    process.args = Array(args.positionals.dropFirst())
    process.terminal = false
    if let cwd = args["cwd"] { process.cwd = cwd }
    process.env = (process.env ?? []) + args.all("env")
    if let user = args["user"] {
        let parts = user.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let uid = UInt32(parts[0]), parts.count == 1 || UInt32(parts[1]) != nil else {
            throw UsageError(description: "--user: expected UID or UID:GID, got \"\(user)\"")
        }
        process.user.uid = uid
        process.user.gid = parts.count == 2 ? UInt32(parts[1])! : 0
    }
    let gids = try args.all("additional-gids").map { text throws(UsageError) -> UInt32 in
        guard let gid = UInt32(text) else { throw UsageError(description: "--additional-gids: \"\(text)\" is not a gid") }
        return gid
    }
    if !gids.isEmpty { process.user.additionalGids = gids }
    let caps = args.all("cap")
    if !caps.isEmpty {
        var capabilities = process.capabilities ?? Spec.Capabilities()
        capabilities.bounding = (capabilities.bounding ?? []) + caps
        capabilities.effective = (capabilities.effective ?? []) + caps
        capabilities.permitted = (capabilities.permitted ?? []) + caps
        process.capabilities = capabilities
    }
    if args.has("no-new-privs") { process.noNewPrivileges = true }
    return process
}
