// SPDX-License-Identifier: Apache-2.0
// A tiny scheduler on top of SkiffRuntime: it places a handful of tasks, each sized in CPUs
// and MiB, on this node while they fit, starts them, streams what they use, and stops them.
// Tasks are driven from concurrent Swift tasks: the library is safe to call from many threads.
//
//     tiny-scheduler --rootfs DIR [--root DIR] [--seconds N]
import FoundationEssentials
import Glibc
import SkiffRuntime
import SkiffSpec

struct TaskSpec: Sendable {
    var name: String
    var cpus: Double
    var memoryMiB: Int64
    var command: String
}

struct Node {
    var cpus: Double
    var memoryMiB: Int64

    /// First fit: a task is placed if what is left holds it.
    mutating func place(_ task: TaskSpec) -> Bool {
        guard task.cpus <= cpus, task.memoryMiB <= memoryMiB else { return false }
        cpus -= task.cpus
        memoryMiB -= task.memoryMiB
        return true
    }
}

func option(_ name: String, _ fallback: String?) -> String? {
    let arguments = CommandLine.arguments
    guard let i = arguments.firstIndex(of: "--" + name), i + 1 < arguments.count else { return fallback }
    return arguments[i + 1]
}

guard let rootfs = option("rootfs", nil) else {
    print("usage: tiny-scheduler --rootfs DIR [--root DIR] [--seconds N]")
    exit(2)
}
let root = option("root", "/run/skiff-tiny-scheduler")!
let seconds = Double(option("seconds", "2")!) ?? 2
let runtime = Runtime(root: root)
var node = Node(cpus: 1.0, memoryMiB: 256)
let wanted = [
    TaskSpec(name: "web", cpus: 0.5, memoryMiB: 64, command: "while :; do :; done"),
    TaskSpec(name: "worker", cpus: 0.25, memoryMiB: 64, command: "while :; do :; done"),
    TaskSpec(name: "cache", cpus: 0.25, memoryMiB: 128, command: "sleep 600"),
    TaskSpec(name: "batch", cpus: 1.0, memoryMiB: 64, command: "sleep 600"),  // does not fit
]
var placed: [TaskSpec] = []
for task in wanted {
    if node.place(task) {
        placed.append(task)
        print("placed \(task.name): \(task.cpus) CPU, \(task.memoryMiB) MiB")
    } else {
        print("rejected \(task.name): needs \(task.cpus) CPU, \(task.memoryMiB) MiB; node has \(node.cpus) CPU, \(node.memoryMiB) MiB left")
    }
}

/// A bundle for `task`: the default spec, its command, and its envelope as cgroup limits.
func bundle(for task: TaskSpec) throws -> String {
    let directory = "/tmp/tiny-scheduler-\(getpid())-\(task.name)"
    mkdir(directory, 0o755)
    var spec = Spec.defaultSpec(rootfs: rootfs)
    spec.hostname = task.name
    spec.process?.args = ["sh", "-c", task.command]
    spec.linux?.resources = Spec.Resources(
        memory: .init(limit: task.memoryMiB << 20),
        cpu: .init(quota: Int64(task.cpus * 100_000), period: 100_000),
        pids: .init(limit: 64), devices: [.init(allow: false, access: "rwm")])
    let fd = open(directory + "/config.json", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let bytes = SpecLoader.encode(spec)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    return directory
}

func id(_ task: TaskSpec) -> String { "tiny-\(getpid())-\(task.name)" }

// Start every placed task concurrently.
try await withThrowingTaskGroup(of: Void.self) { group in
    for task in placed {
        group.addTask {
            try runtime.create(id: id(task), options: CreateOptions(bundle: try bundle(for: task)))
            try runtime.start(id: id(task))
        }
    }
    try await group.waitForAll()
}
print("started \(placed.map(\.name).joined(separator: ", "))")

// Stream usage.
let rounds = max(1, Int(seconds / 0.5))
for round in 1...rounds {
    usleep(500_000)
    for task in placed {
        let stats = try runtime.stats(id: id(task))
        let cpu = Double(stats.cpu.total) / 1e9
        print(
            "t=\(Double(round) * 0.5)s \(task.name): cpu \((cpu * 1000).rounded() / 1000) s, memory \(stats.memory.usage >> 10) KiB, limit \(stats.memory.limit >> 20) MiB"
        )
    }
}

// Stop, reap and remove them, concurrently again.
try await withThrowingTaskGroup(of: (String, Int32?).self) { group in
    for task in placed {
        group.addTask {
            try runtime.kill(id: id(task), signal: SIGKILL)
            let status = try runtime.waitForExit(id: id(task))
            try runtime.delete(id: id(task))
            return (task.name, status)
        }
    }
    for try await (name, status) in group { print("stopped \(name): exit status \(status.map(String.init) ?? "unknown")") }
}
for task in placed { _ = system("rm -rf /tmp/tiny-scheduler-\(getpid())-\(task.name)") }
print("done: \(runtime.list().count) containers left")
