// SPDX-License-Identifier: Apache-2.0
import SkiffRuntime

/// runc's CRIU options, shared by `checkpoint` and `restore` (podman and containerd's runc
/// shim pass these).
let criuOptions: [OptionSpec] = [
    .value("image-path", "DIR", "CRIU's image files (default ./checkpoint)"),
    .value("work-path", "DIR", "CRIU's work files and logs (default: the image directory)"),
    .flag("tcp-established", "checkpoint (restore) established TCP connections"),
    .flag("ext-unix-sk", "allow external unix sockets"),
    .flag("shell-job", "allow a shell job (a session or terminal from outside)"),
    .flag("file-locks", "checkpoint (restore) file locks"),
    .flag("auto-dedup", "deduplicate memory images as they are written"),
    .flag("lazy-pages", "leave memory pages to be fetched on demand (userfaultfd)"),
    .value("manage-cgroups-mode", "MODE", "CRIU's cgroup mode: soft, full, strict or ignore (default soft)"),
    .value("empty-ns", "NS", "a namespace CRIU makes empty instead of restoring (network)"),
]

let checkpointCommands: [Command] = [
    Command(
        name: "checkpoint", summary: "save a running container with CRIU (then deleted, unless --leave-running)", usage: "<container-id>",
        positionals: 1...1,
        options: criuOptions + [
            .value("parent-path", "DIR", "a pre-dump's images, relative to --image-path"),
            .flag("leave-running", "leave the container running after the checkpoint"),
            .flag("tcp-skip-in-flight", "skip TCP connections still being established"),
            .flag("link-remap", "link unlinked open files back where possible"),
            .flag("pre-dump", "save memory only, leaving the container running (for an incremental checkpoint)"),
            .value("page-server", "ADDRESS:PORT", "send the memory pages to a page server (with --lazy-pages: serve them there)"),
            .value("status-fd", "FD", "CRIU writes a zero byte to FD once a lazy checkpoint serves its pages"),
        ]
    ) { args, context in
        var options = try checkpointOptionsFrom(args)
        options.parentPath = args["parent-path"]
        options.leaveRunning = args.has("leave-running")
        options.tcpSkipInFlight = args.has("tcp-skip-in-flight")
        options.linkRemap = args.has("link-remap")
        options.preDump = args.has("pre-dump")
        options.pageServer = args["page-server"]
        if args["status-fd"] != nil {
            let descriptor = try args.integer("status-fd", default: -1)
            guard descriptor >= 0, descriptor <= Int(Int32.max) else { throw UsageError(description: "--status-fd: expected a descriptor number, got \(descriptor)") }
            options.statusDescriptor = Int32(descriptor)
        }
        try context.runtime.checkpoint(id: args.positionals[0], options: options)
        return 0
    },
    Command(
        name: "restore", summary: "restore a container from a checkpoint (with the bundle's cgroup and mounts)", usage: "<container-id>",
        positionals: 1...1,
        options: criuOptions + [
            .value("bundle", short: "b", "DIR", "the bundle directory, holding config.json (default .)"),
            .flag("detach", short: "d", "return once the container runs, leaving it running"),
            .value("pid-file", "FILE", "write the restored process's pid to FILE"),
            .value("console-socket", "SOCKET", "AF_UNIX socket for the terminal's pty master (process.terminal)"),
            .flag("no-pivot", "accepted as runc's (CRIU switches the root itself)"),
            .flag("no-subreaper", "accepted as runc's"),
        ]
    ) { args, context in
        var create = CreateOptions(bundle: args["bundle"] ?? ".", pidFile: args["pid-file"].map(absolutePath))
        create.consoleSocket = args["console-socket"]
        create.noPivot = args.has("no-pivot")
        var options = RestoreOptions(create: create, checkpoint: try checkpointOptionsFrom(args))
        options.detach = args.has("detach")
        return try context.runtime.restore(id: args.positionals[0], options: options)
    },
]

func checkpointOptionsFrom(_ args: Arguments) throws(UsageError) -> CheckpointOptions {
    var options = CheckpointOptions(imagePath: args["image-path"] ?? "checkpoint")
    options.workPath = args["work-path"]
    options.tcpEstablished = args.has("tcp-established")
    options.externalUnixSockets = args.has("ext-unix-sk")
    options.shellJob = args.has("shell-job")
    options.fileLocks = args.has("file-locks")
    options.autoDedup = args.has("auto-dedup")
    options.lazyPages = args.has("lazy-pages")
    if let mode = args["manage-cgroups-mode"], !mode.isEmpty { options.manageCgroupsMode = mode }
    let empty = args.all("empty-ns")
    options.emptyNamespaces = empty.isEmpty ? (args["empty-ns"].map { [$0] } ?? []) : empty
    options.criuPath = args["criu"]
    return options
}
