// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffSpec
import SkiffSystem

/// `skiff check`: runs a bundle exactly as configured, with its process replaced by the
/// probe, under skiff or any runc-compatible runtime, and judges what the probe saw.
public struct CheckRequest: Sendable {
    public var bundle: String
    /// A runc-compatible runtime; nil: this skiff.
    public var runtime: String?
    public var policy = CheckPolicy()
    /// Empty: every group.
    public var groups: Set<CheckGroup> = []
    /// skiff's state root when skiff itself runs the task, so a networked task leases its
    /// address beside the node's other tasks (another runtime keeps its state apart).
    public var skiffRoot: String?

    public init(bundle: String) { self.bundle = bundle }
}

/// Set by SIGINT/SIGTERM while the checked task runs: it is deleted, and the check ends.
nonisolated(unsafe) private var interruption: Int32 = 0

public enum Checker {
    /// Where the probe is mounted inside the task: /dev is a tmpfs the runtime makes, so
    /// the image is not written to (the root itself when no /dev tmpfs is configured).
    static func probeDestination(_ spec: Spec) -> String {
        (spec.mounts ?? []).contains { $0.destination == "/dev" && $0.type == "tmpfs" } ? "/dev/.skiff-probe" : "/.skiff-probe"
    }

    /// `skiff` beside which `skiff-probe` is installed (like skiff-init).
    static var ownExecutable: String { readLink("/proc/self/exe") ?? "skiff" }

    public static func run(_ request: CheckRequest) throws(CheckError) -> [CheckResult] {
        guard let resolved = realpath(request.bundle, nil) else {
            throw CheckError(SystemError("bundle \(request.bundle)", errno: errno).description)
        }
        let bundle = String(cString: resolved)
        free(resolved)
        var spec: Spec
        do { spec = try SpecLoader.load(bundle: bundle) } catch { throw CheckError("\(bundle)/config.json: \(error)") }
        let skiff = ownExecutable
        let work = "/tmp/skiff-check-\(getpid())"
        mkdir(work, 0o700)
        mkdir(work + "/bundle", 0o700)
        defer { removeTree(work) }
        let runtime = try checkedRuntime(request.runtime ?? skiff, work: work)
        let probe = skiff.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/skiff-probe"
        guard access(probe, X_OK) == 0 else { throw CheckError("\(probe): the probe is missing (make build installs it beside skiff)") }

        let destination = probeDestination(spec)
        let plan = CheckPlan(spec: spec, policy: request.policy, groups: request.groups, probePath: destination, runtimePath: runtime)
        // The task as configured, but running the probe, bind-mounted read-only.
        let root = spec.root!.path
        spec.root!.path = root.hasPrefix("/") ? root : bundle + "/" + root
        spec.process?.args = [destination] + plan.probeArguments
        spec.process?.terminal = false
        spec.mounts = (spec.mounts ?? []) + [Spec.Mount(destination: destination, type: "bind", source: probe, options: ["bind", "ro", "nosuid"])]

        let bytes = SpecLoader.encode(spec)
        do throws(SystemError) { try writeFile(bytes, to: work + "/bundle/config.json", mode: 0o600) } catch { throw CheckError(error.description) }
        let id = "skiff-check-\(getpid())"
        let state = request.runtime == nil ? request.skiffRoot ?? work + "/state" : work + "/state"
        let output = try runTask(runtime: runtime, arguments: ["--root", state, "run", "--bundle", work + "/bundle", id], work: work)
        // Whatever happened, the task goes (run deletes it; after a failure or Ctrl-C it may not have).
        _ = spawn(runtime, ["--root", state, "delete", "--force", id], stdout: "/dev/null", stderr: "/dev/null").map(Subprocess.wait)
        if interruption != 0 { throw CheckError("interrupted: the checked task was deleted") }
        let report = ProbeReport(output.stdout)
        guard report["probe"] == "1" else {
            let why = output.stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(output.status)"
            throw CheckError("the task did not run the probe under \(runtime): \(why)")
        }
        guard report.isComplete else { throw CheckError("the probe was stopped before it finished (exit status \(output.status))") }
        return plan.evaluate(report)
    }

    /// The runtime must exist and answer like runc: `--version` prints a version, and
    /// `state` of a container that does not exist fails.
    private static func checkedRuntime(_ path: String, work: String) throws(CheckError) -> String {
        guard access(path, X_OK) == 0 else { throw CheckError(SystemError("--runtime \(path)", errno: errno).description) }
        let output = work + "/version"
        guard let version = spawn(path, ["--version"], stdout: output, stderr: "/dev/null") else { throw CheckError("--runtime \(path): cannot be run") }
        let versionStatus = Subprocess.wait(version)
        let text = (try? readFile(output)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let state = spawn(path, ["--root", work + "/state", "state", "skiff-check-nonexistent"], stdout: "/dev/null", stderr: "/dev/null").map(Subprocess.wait)
        guard versionStatus == 0, text.lowercased().contains("version"), let state, state != 0 else {
            throw CheckError("--runtime \(path): not a runc-compatible runtime (`--version` and `state` do not answer as runc's do)")
        }
        return path
    }

    private static func runTask(runtime: String, arguments: [String], work: String) throws(CheckError) -> (status: Int32, stdout: String, stderr: String) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in interruption = 1 }
        action.sa_flags = 0
        var previous = [sigaction(), sigaction()]
        sigaction(SIGINT, &action, &previous[0])
        sigaction(SIGTERM, &action, &previous[1])
        // A caller may have blocked them (as some process supervisors do): Ctrl-C must still end the check.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        var previousMask = sigset_t()
        sigprocmask(SIG_UNBLOCK, &signals, &previousMask)
        defer {
            sigprocmask(SIG_SETMASK, &previousMask, nil)
            sigaction(SIGINT, &previous[0], nil)
            sigaction(SIGTERM, &previous[1], nil)
        }
        guard let pid = spawn(runtime, arguments, stdout: work + "/stdout", stderr: work + "/stderr") else {
            throw CheckError("\(runtime): cannot be run")
        }
        var status: Int32 = 0
        var waited = 0
        // The probe takes seconds (the CPU share is measured over two); a minute is a hang.
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if interruption != 0 || waited > 6000 {
                kill(pid, SIGTERM)
                usleep(100_000)
                kill(pid, SIGKILL)
                status = Subprocess.wait(pid)
                if interruption == 0 { throw CheckError("the checked task did not finish within a minute") }
                break
            }
            usleep(10_000)
            waited += 1
        }
        func text(_ path: String) -> String { (try? readFile(path)).map { String(decoding: $0, as: UTF8.self) } ?? "" }
        return (status, text(work + "/stdout"), text(work + "/stderr"))
    }

    /// The runtime under test, stdin from /dev/null and its output to files.
    private static func spawn(_ path: String, _ arguments: [String], stdout: String, stderr: String) -> pid_t? {
        let output: Int32 = O_WRONLY | O_CREAT | O_TRUNC
        return try? Subprocess.spawn(
            path, arguments,
            streams: [
                0: .file("/dev/null", flags: O_RDONLY), 1: .file(stdout, flags: output),
                2: .file(stderr, flags: output),
            ])
    }

    /// Removes the check's work directory: the bundle, the output, and whatever state the
    /// runtime under test kept in its root there.
    private static func removeTree(_ path: String) {
        for name in listDirectory(path) {
            // rmdir fails on a file (ENOTDIR) and unlink on a directory (EISDIR): one of them is right.
            if unlink(path + "/" + name) != 0 { removeTree(path + "/" + name) }
        }
        rmdir(path)
    }
}
