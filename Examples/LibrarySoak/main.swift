// SPDX-License-Identifier: Apache-2.0
// A long-running scheduler's life in one process, compressed: SkiffRuntime creates, execs into,
// fails to create (a bad mount, a missing binary, an init killed during create) and deletes
// containers, round after round, and says whether its open descriptors and threads came back
// to where they started. A descriptor or thread leaked on any of those paths accumulates in
// an embedding scheduler; here it shows as a difference.
//
//     library-soak --rootfs DIR [--root DIR] [--rounds N]
import FoundationEssentials
import Glibc
import SkiffRuntime
import SkiffSpec
import SkiffSystem

func option(_ name: String, _ fallback: String?) -> String? {
    let arguments = CommandLine.arguments
    guard let i = arguments.firstIndex(of: "--" + name), i + 1 < arguments.count else { return fallback }
    return arguments[i + 1]
}

guard let rootfs = option("rootfs", nil) else {
    print("usage: library-soak --rootfs DIR [--root DIR] [--rounds N]")
    exit(2)
}
let root = option("root", "/run/skiff-library-soak")!
let rounds = Int(option("rounds", "1000")!) ?? 1000
let runtime = Runtime(root: root)
let scratch = "/tmp/library-soak-\(getpid())"
mkdir(scratch, 0o755)

/// The round's kinds, in turn.
enum Round: CaseIterable {
    /// run -d, exec a process into it (foreground), delete --force.
    case runExecDelete
    /// create, start, wait for it to exit, delete.
    case createStartDelete
    /// A mount of a filesystem type the kernel does not have: create fails in skiff-init.
    case badMount
    /// A binary that is not in the root: create fails looking it up.
    case missingBinary
    /// A prestart hook kills the init during create.
    case killedInit
}

func bundle(_ round: Round) throws -> String {
    let directory = scratch + "/\(round)"
    mkdir(directory, 0o755)
    var spec = Spec.defaultSpec(rootfs: rootfs)
    spec.process?.args = ["sleep", "30"]
    spec.process?.terminal = false
    switch round {
    case .runExecDelete: break
    case .createStartDelete: spec.process?.args = ["true"]
    case .badMount: spec.mounts?.append(.init(destination: "/data", type: "skiff-no-such-filesystem", source: "none"))
    case .missingBinary: spec.process?.args = ["/no/such/binary"]
    case .killedInit:
        spec.hooks = .init(prestart: [.init(path: "/bin/sh", args: ["sh", "-c", "kill -9 $(sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p')"])])
    }
    try writeFile(SpecLoader.encode(spec), to: directory + "/config.json")
    return directory
}

func descriptors() -> Int { listDirectory("/proc/self/fd").count }
func threads() -> Int { listDirectory("/proc/self/task").count }

let bundles = try Dictionary(uniqueKeysWithValues: Round.allCases.map { ($0, try bundle($0)) })
var exec = Spec.defaultSpec(rootfs: rootfs).process!
exec.args = ["true"]
exec.terminal = false
var failures: [Round: Int] = [:]
var firstError: [Round: String] = [:]

@MainActor func play(_ round: Round, _ n: Int) {
    let id = "soak-\(getpid())-\(n)"
    let options = CreateOptions(bundle: bundles[round]!)
    do {
        switch round {
        case .runExecDelete:
            _ = try runtime.run(id: id, options: options, detach: true)
            let status = try runtime.exec(id: id, process: exec)
            if status != 0 { print("round \(n): exec exited \(status)") }
            try runtime.delete(id: id, force: true)
        case .createStartDelete:
            try runtime.create(id: id, options: options)
            try runtime.start(id: id)
            _ = try runtime.waitForExit(id: id)
            try runtime.delete(id: id)
        case .badMount, .missingBinary, .killedInit:
            try runtime.create(id: id, options: options)
            print("round \(n): \(round) was created")
            try runtime.delete(id: id, force: true)
        }
    } catch {
        failures[round, default: 0] += 1
        if firstError[round] == nil { firstError[round] = error.description }
        if round == .runExecDelete || round == .createStartDelete { print("round \(n): \(round): \(error)") }
        try? runtime.delete(id: id, force: true)
    }
}

// One of each first: what a process opens once (the cgroup root's descriptor, the layout it
// reads) is opened then, not counted as a leak.
for (n, round) in Round.allCases.enumerated() { play(round, -1 - n) }
failures = [:]
let before = (descriptors: descriptors(), threads: threads())
for n in 0..<rounds { play(Round.allCases[n % Round.allCases.count], n) }
let after = (descriptors: descriptors(), threads: threads())
_ = system("rm -rf \(scratch)")
print("rounds: \(rounds)")
for round in Round.allCases {
    print("failed \(round): \(failures[round] ?? 0)" + (firstError[round].map { " (the first: \($0))" } ?? ""))
}
print("descriptors: \(before.descriptors) -> \(after.descriptors)")
print("threads: \(before.threads) -> \(after.threads)")
print("containers left: \(runtime.list().count)")
