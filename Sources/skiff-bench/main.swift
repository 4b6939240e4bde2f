// SPDX-License-Identifier: Apache-2.0
// skiff-bench: skiff side by side with crun and runc on this machine.
//
// Runs the default bundle with /bin/true N times per runtime, alternating the runtimes
// within each round (through every order) so that they share the machine's state, and
// reports per runtime the
// median milliseconds of `run` and of `create`+`start`+`delete`, the peak RSS of the
// runtime process, and the ratios to crun. A row for the bare kernel work (unshare of the
// same namespaces + chroot + exec of /bin/true) shows the floor. crun's own default bundle
// (`crun spec`) is measured too, alone and many at once: the bundle users and benchmarks take.
//
// crun 1.8 refuses hybrid cgroup hosts, so on such a host the benchmark runs in a private
// mount namespace in which the (controller-less) cgroup2 mount is unmounted. Every runtime
// runs in that same namespace, so all see the same v1 hierarchies; nothing changes outside.
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

struct Options {
    var skiff = ".build/release/skiff"
    var probe = ".build/rss-probe"
    var rootfs = "rootfs"
    var iterations = 100
    var runtimes = ["skiff", "crun", "runc"]
    /// What to measure: one at a time, many at once, the tail, networked tasks.
    var sections: Set<String> = ["single", "many", "tail", "network"]

    init(_ arguments: [String]) {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { fatal("\(flag) needs a value") }
            switch flag {
            case "--skiff": skiff = value
            case "--rootfs": rootfs = value
            case "--probe": probe = value
            case "--iterations": iterations = Int(value) ?? iterations
            case "--runtimes": runtimes = value.split(separator: ",").map(String.init)
            case "--sections": sections = Set(value.split(separator: ",").map(String.init))
            default: fatal("unknown flag \(flag) (--skiff PATH, --rootfs DIR, --probe PATH, --iterations N, --runtimes a,b, --sections single,many,tail,network)")
            }
        }
    }
}

func fatal(_ message: String) -> Never {
    let line = "skiff-bench: \(message)\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(2)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
}

/// One measured command: wall milliseconds and the child's peak RSS in KiB.
struct Sample {
    var milliseconds: Double
    var peakKiB: Int
}

/// Runs `argv` under rss-probe (see bench/rss-probe.c), stdio from /dev/null, and reads
/// back its wall time and peak RSS; fails loudly on a non-zero exit.
func measure(_ command: [String]) -> Sample {
    let report = work + "/probe.out"
    let argv = [probe, report] + command
    let pid: pid_t
    do throws(SystemError) {
        pid = try Subprocess.spawn(argv[0], Array(argv.dropFirst()), streams: [0: .file("/dev/null", flags: O_RDWR), 1: .file("/dev/null", flags: O_RDWR)])
    } catch { fatal(error.description) }
    let status = Subprocess.wait(pid)
    if status != 0 { fatal("\(command.joined(separator: " ")) failed with wait status \(status)") }
    let fields = readText(report).split(separator: " ")
    guard fields.count == 2, let ms = Double(fields[0]), let kib = Int(fields[1].filter { $0.isNumber }) else {
        fatal("rss-probe wrote no measurement")
    }
    return Sample(milliseconds: ms, peakKiB: kib)
}

func readText(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 256)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return "" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func which(_ name: String) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] where access("\(dir)/\(name)", X_OK) == 0 {
        return "\(dir)/\(name)"
    }
    return nil
}

func absolute(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { fatal(SystemError("\(path)", errno: errno).description) }
    defer { free(resolved) }
    return String(cString: resolved)
}

func writeFile(_ path: String, _ text: String) {
    do { try SkiffSystem.writeFile(Array(text.utf8), to: path) } catch { fatal(error.description) }
}

/// The default bundle (as `skiff spec` writes it) running /bin/true. ociVersion 1.0.2 is
/// the newest that runc 1.1 and crun 1.8 accept; the fields are the same.
func bundleConfig(
    rootfs: String, resources: String = #"{"devices": [{"allow": false, "access": "rwm"}]}"#, seccomp: String? = nil,
    args: String = #"["/bin/true"]"#, annotations: String = "{}", extraMounts: String = "", extraMasked: [String] = []
) -> String {
    let masked =
        [
            "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
            "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
        ] + extraMasked
    let caps = #"["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]"#
    return """
        {"ociVersion": "1.0.2",
         "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": \(args),
           "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"], "cwd": "/",
           "capabilities": {"bounding": \(caps), "effective": \(caps), "permitted": \(caps)},
           "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}], "noNewPrivileges": true},
         "root": {"path": "\(rootfs)", "readonly": true},
         "hostname": "bench",
         "annotations": \(annotations),
         "mounts": [
           {"destination": "/proc", "type": "proc", "source": "proc"},
           {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
           {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
           {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
           {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
           {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
           {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}\(extraMounts)
         ],
         "linux": {
           "resources": \(resources),\(seccomp.map { "\n       \"seccomp\": \($0)," } ?? "")
           "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
           "maskedPaths": [\(masked.map { "\"\($0)\"" }.joined(separator: ", "))],
           "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
         }}
        """
}

/// A private mount namespace without the controller-less cgroup2 mount of a hybrid host,
/// with a tmpfs for the runtimes' state roots and, where /run is not one, for skiff's leases.
func enterBenchmarkMountNamespace() {
    guard skiff_unshare(Int32(SKIFF_CLONE_NEWNS)) == 0 else { fatal(SystemError("unshare(CLONE_NEWNS)", errno: errno).description) }
    guard mount(nil, "/", nil, UInt(MS_REC | MS_SLAVE), nil) == 0 else { fatal("making / a slave mount") }
    // State roots on a tmpfs, as engines keep them (/run/containerd/runc, /run/crun): on a
    // disk file system every runtime's state files would cost each create an inode search.
    mkdir(work + "/run", 0o755)
    guard mount("tmpfs", work + "/run", "tmpfs", 0, "mode=0755") == 0 else { fatal("mounting a tmpfs for the state roots") }
    // skiff's leases live under /run, a tmpfs on every real node; where /run is a disk (this
    // development machine's is its root ext4, mounted `discard`), each create's rewritten
    // lease file would cost an online discard that no node pays.
    let mounts = String(decoding: (try? readFile("/proc/self/mounts")) ?? [], as: UTF8.self)
    let runIsTmpfs = mounts.split(separator: "\n").contains { line in
        let fields = line.split(separator: " ")
        return fields.count > 2 && fields[1] == "/run" && fields[2] == "tmpfs"
    }
    if !runIsTmpfs {
        mkdir("/run/skiff-network", 0o700)
        guard mount("tmpfs", "/run/skiff-network", "tmpfs", 0, "mode=0700") == 0 else { fatal("mounting a tmpfs for skiff's leases") }
        print("/run is not a tmpfs here: skiff's leases (/run/skiff-network) are on one in the benchmark's namespace\n")
    }
    let hybrid = access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0 && access("/sys/fs/cgroup/memory", F_OK) == 0
    if hybrid, umount2("/sys/fs/cgroup/unified", Int32(MNT_DETACH)) != 0 {
        fatal("unmounting /sys/fs/cgroup/unified in the benchmark's namespace")
    }
    if hybrid { print("hybrid cgroup host: all runtimes run in a mount namespace without /sys/fs/cgroup/unified\n") }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func format(_ value: Double, _ decimals: Int = 2) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    let digits = text.split(separator: ".").last?.count ?? 0
    if digits < decimals { text += String(repeating: "0", count: decimals - digits) }
    return text
}

// MARK: - main

/// The network namespaces the kernel holds (its slab of them): a dead container's namespace
/// is torn down later, by a kernel worker, and hundreds of such teardowns under way slow
/// whatever is measured next — the first containers of the next runtime's batch, which is
/// where a p99 is read.
func namespaceCount() -> Int {
    let text = String(decoding: (try? readFile("/proc/slabinfo")) ?? [], as: UTF8.self)
    let line = text.split(separator: "\n").first { $0.hasPrefix("net_namespace ") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}
/// Waits (at most 2 minutes) until the namespaces of the containers before are gone: back to
/// `baseline` or no fewer for 3 s.
func settle(to baseline: Int) {
    var count = namespaceCount(), unchanged = 0.0, waited = 0.0
    while count > baseline + 5, unchanged < 3, waited < 120 {
        usleep(200_000)
        waited += 0.2
        let now = namespaceCount()
        unchanged = now < count ? 0 : unchanged + 0.2
        count = now
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
guard geteuid() == 0 else { fatal("run as root (containers are created for real)") }
let rootfs = absolute(options.rootfs)
let probe = absolute(options.probe)
var binaries: [(name: String, path: String)] = []
for name in options.runtimes {
    let path = name == "skiff" ? which(options.skiff).map(absolute) : which(name)
    if let path { binaries.append((name, path)) } else { print("\(name): not installed, skipped") }
}
let work = "/tmp/skiff-bench-\(getpid())"
mkdir(work, 0o755)
mkdir(work + "/bundle", 0o755)
writeFile(work + "/bundle/config.json", bundleConfig(rootfs: rootfs))
// The same with the default container seccomp profile (what `skiff spec` writes), for all three.
mkdir(work + "/seccomp", 0o755)
writeFile(work + "/seccomp/config.json", bundleConfig(rootfs: rootfs, seccomp: Spec.Seccomp.defaultProfile.jsonValue.serialized()))
// The same with a CPU, memory and pids envelope, the way a scheduler sizes a task.
mkdir(work + "/limits", 0o755)
writeFile(
    work + "/limits/config.json",
    bundleConfig(
        rootfs: rootfs,
        resources: """
            {"devices": [{"allow": false, "access": "rwm"}], "cpu": {"quota": 50000, "period": 100000},
             "memory": {"limit": 268435456}, "pids": {"limit": 100}}
            """))
// Kubernetes masks a directory per CPU (/sys/devices/system/cpu/cpu*/thermal_throttle): 100
// masked directories, existing ones (a host directory bound at /srv), beside the defaults.
mkdir(work + "/masked", 0o755)
mkdir(work + "/masked-dirs", 0o755)
for n in 0..<100 { mkdir(work + "/masked-dirs/cpu\(n)", 0o755) }
writeFile(
    work + "/masked/config.json",
    bundleConfig(
        rootfs: rootfs,
        extraMounts: #",\#n           {"destination": "/srv", "type": "bind", "source": "\#(work)/masked-dirs", "options": ["rbind", "ro"]}"#,
        extraMasked: (0..<100).map { "/srv/cpu\($0)" }))
// crun's own default bundle, as users and other benchmarks take it (`crun spec`): no cgroup
// namespace, no seccomp, a terminal. Only what no runtime can run unattended is changed: the
// root, /bin/true for `sh`, and no terminal (crun refuses a terminal without a tty on stdin).
let crunBundle: String? = which("crun").map { crun in
    let directory = work + "/crun-spec"
    mkdir(directory, 0o755)
    var status: Int32 = 0
    do throws(SystemError) {
        let pid = try Subprocess.spawn(crun, ["spec", "--bundle", directory])
        waitpid(pid, &status, 0)
    } catch { fatal(error.description) }
    guard status == 0, var spec = try? SpecLoader.load(bundle: directory) else { fatal("crun spec failed (wait status \(status))") }
    spec.root?.path = rootfs
    spec.process?.args = ["/bin/true"]
    spec.process?.terminal = false
    writeFile(directory + "/config.json", String(decoding: SpecLoader.encode(spec), as: UTF8.self))
    return directory
}
enterBenchmarkMountNamespace()
let namespacesAtStart = namespaceCount()

var runTimes: [String: [Double]] = [:]
var lifecycleTimes: [String: [Double]] = [:]
var limitedTimes: [String: [Double]] = [:]
var seccompTimes: [String: [Double]] = [:]
var execTimes: [String: [Double]] = [:]
var maskedTimes: [String: [Double]] = [:]
var crunBundleRunTimes: [String: [Double]] = [:]
var crunBundleLifecycleTimes: [String: [Double]] = [:]
// A long-running container per runtime for `exec true`, each with its own id: crun and runc
// name a config's default cgroup after the id alone, so one id would put both in one cgroup.
mkdir(work + "/sleeper", 0o755)
writeFile(work + "/sleeper/config.json", bundleConfig(rootfs: rootfs, args: #"["/bin/sleep", "100000"]"#))
for (name, path) in binaries {
    _ = measure([path, "--root", "\(work)/run/state-\(name)", "run", "--detach", "--bundle", work + "/sleeper", "sleeper-\(name)"])
}
// Every runtime's binary from one page-cache state: its file's cached pages dropped (a hint
// on that file alone), then cached again by the runs measured. A file-backed fault maps what
// the cache holds around it, in folios as large as the path that filled the cache made them:
// one skiff binary measured 4.7 to 5.8 MiB of peak RSS as the linker, `cp`, `cat` or its own
// runs had last filled its cache (docs/benchmarks.md, 2026-12-06).
for (_, path) in binaries {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        close(fd)
    }
}
var peaks: [String: Int] = [:]
var floor: [Double] = []
let unshareTool = which("unshare")
let bundle = work + "/bundle"
if options.sections.contains("single") {
    print("\(options.iterations) rounds of /bin/true per runtime, alternating: \(binaries.map(\.name).joined(separator: ", "))")
}
/// Every order of the runtimes. Runtimes slow each other down (runc's teardown keeps the
/// kernel busy with RCU grace periods, which the next cgroup v1 attach waits for), so each
/// must follow each other equally often: cycling through all orders does that; rotating
/// one order does not.
func permutations<T>(_ items: [T]) -> [[T]] {
    guard items.count > 1 else { return [items] }
    return items.indices.flatMap { i in
        permutations(Array(items[..<i] + items[(i + 1)...])).map { [items[i]] + $0 }
    }
}
let orders = permutations(binaries)

/// `create`, `start` and `delete --force` of `bundle` as `id` (--force: /bin/true may not have
/// exited yet when `start` returns, for any runtime): each step's sample.
func lifecycle(_ runtime: String, root: String, bundle: String, id: String) -> [Sample] {
    [
        measure([runtime, "--root", root, "create", "--bundle", bundle, id]), measure([runtime, "--root", root, "start", id]),
        measure([runtime, "--root", root, "delete", "--force", id]),
    ]
}

func milliseconds(_ samples: [Sample]) -> Double { samples.map(\.milliseconds).reduce(0, +) }

let single = options.sections.contains("single")
for round in 0..<(single ? options.iterations : 0) {
    let order = orders[round % orders.count]
    for (name, path) in order {
        let root = "\(work)/run/state-\(name)"
        let run = measure([path, "--root", root, "run", "--bundle", bundle, "run-\(round)"])
        let plain = lifecycle(path, root: root, bundle: bundle, id: "csd-\(round)")
        lifecycleTimes[name, default: []].append(milliseconds(plain))
        peaks[name] = max(peaks[name] ?? 0, ([run] + plain).map(\.peakKiB).max()!)
        limitedTimes[name, default: []].append(milliseconds(lifecycle(path, root: root, bundle: work + "/limits", id: "lim-\(round)")))
        seccompTimes[name, default: []].append(milliseconds(lifecycle(path, root: root, bundle: work + "/seccomp", id: "sec-\(round)")))
        maskedTimes[name, default: []].append(milliseconds(lifecycle(path, root: root, bundle: work + "/masked", id: "mask-\(round)")))
        if let crunBundle {
            crunBundleRunTimes[name, default: []].append(measure([path, "--root", root, "run", "--bundle", crunBundle, "crb-run-\(round)"]).milliseconds)
            crunBundleLifecycleTimes[name, default: []].append(milliseconds(lifecycle(path, root: root, bundle: crunBundle, id: "crb-\(round)")))
        }
        execTimes[name, default: []].append(measure([path, "--root", root, "exec", "sleeper-\(name)", "/bin/true"]).milliseconds)
        runTimes[name, default: []].append(run.milliseconds)
    }
    if let unshareTool {
        floor.append(measure([unshareTool, "--fork", "--pid", "--net", "--ipc", "--uts", "--mount", "chroot", rootfs, "/bin/true"]).milliseconds)
    }
}

for (name, path) in binaries { _ = measure([path, "--root", "\(work)/run/state-\(name)", "delete", "--force", "sleeper-\(name)"]) }
if single {
    let crunRun = median(runTimes["crun"] ?? [])
    let crunLifecycle = median(lifecycleTimes["crun"] ?? [])
    let crunPeak = Double(peaks["crun"] ?? 0)
    let crunLimited = median(limitedTimes["crun"] ?? [])
    let crunSeccomp = median(seccompTimes["crun"] ?? [])
    let crunExec = median(execTimes["crun"] ?? [])
    print("")
    print(
        "runtime   run ms   vs crun   create+start+delete ms   vs crun   same, with cpu+memory+pids limits   vs crun   same, with the default seccomp profile   vs crun   exec true ms   vs crun   peak RSS MiB   vs crun"
    )
    for (name, _) in binaries {
        let run = median(runTimes[name] ?? []), lifecycle = median(lifecycleTimes[name] ?? [])
        let limited = median(limitedTimes[name] ?? [])
        let peak = Double(peaks[name] ?? 0)
        let columns = [
            name + String(repeating: " ", count: max(0, 8 - name.count)),
            format(run).leftPad(7), format(run / crunRun).leftPad(9),
            format(lifecycle).leftPad(24), format(lifecycle / crunLifecycle).leftPad(9),
            format(limited).leftPad(35), format(limited / crunLimited).leftPad(9),
            format(median(seccompTimes[name] ?? [])).leftPad(39), format(median(seccompTimes[name] ?? []) / crunSeccomp).leftPad(9),
            format(median(execTimes[name] ?? [])).leftPad(14), format(median(execTimes[name] ?? []) / crunExec).leftPad(9),
            format(peak / 1024).leftPad(14), format(peak / crunPeak).leftPad(9),
        ]
        print(columns.joined(separator: " "))
    }
    if !floor.isEmpty {
        print("kernel floor (unshare of the same namespaces + chroot + exec): \(format(median(floor))) ms")
    }
    print("")
    print("create+start+delete with 100 masked directories besides the defaults (Kubernetes' per-CPU masks):")
    print("runtime   ms       vs crun   vs its own default bundle")
    let crunMasked = median(maskedTimes["crun"] ?? [])
    for (name, _) in binaries {
        let masked = median(maskedTimes[name] ?? [])
        print(
            [
                name + String(repeating: " ", count: max(0, 8 - name.count)), format(masked).leftPad(7), format(masked / crunMasked).leftPad(9),
                format(masked / median(lifecycleTimes[name] ?? [])).leftPad(27),
            ].joined(separator: " "))
    }
}

// MARK: - many at once: a scheduler starting 50 tasks, 2, 8 and 32 at a time

/// Wall time of `count` `run`s of /bin/true with at most `width` in flight (ms).
func concurrentRuns(_ path: String, root: String, bundle: String, count: Int, width: Int, tag: String) -> Double {
    let start = now()
    var running = Set<pid_t>()
    var next = 0
    let quiet: [Int32: Subprocess.Stream] = [0: .file("/dev/null", flags: O_RDONLY), 1: .file("/dev/null", flags: O_WRONLY), 2: .file("/dev/null", flags: O_WRONLY)]
    while next < count || !running.isEmpty {
        while next < count, running.count < width {
            do throws(SystemError) {
                running.insert(try Subprocess.spawn(path, ["--root", root, "run", "--bundle", bundle, "\(tag)-\(next)"], streams: quiet))
            } catch { fatal(error.description) }
            next += 1
        }
        var status: Int32 = 0
        let done = waitpid(-1, &status, 0)
        if done < 0 {
            if errno == EINTR { continue }
            fatal(SystemError("waiting for the runs", errno: errno).description)
        }
        running.remove(done)
        if status != 0 { fatal("\(path) run failed with wait status \(status) (\(width) at a time)") }
    }
    return now() - start
}

let widths = [2, 8, 32]
/// 50 runs of `bundle` at each width, every runtime, 3 rounds; printed as wall ms per width.
@MainActor func manyAtOnce(_ bundle: String, title: String, tag: String) {
    var times: [String: [Int: [Double]]] = [:]
    for round in 0..<3 {
        for width in widths {
            for (name, path) in orders[round % orders.count] {
                let time = concurrentRuns(path, root: "\(work)/run/state-\(name)", bundle: bundle, count: 50, width: width, tag: "\(tag)-\(width)-\(round)")
                times[name, default: [:]][width, default: []].append(time)
            }
        }
    }
    print("")
    print(title)
    print("runtime   " + widths.map { "\($0) at a time".leftPad(12) + "   vs crun" }.joined(separator: "   "))
    for (name, _) in binaries {
        var columns = [name + String(repeating: " ", count: max(0, 8 - name.count))]
        for width in widths {
            let ms = median(times[name]?[width] ?? []), crun = median(times["crun"]?[width] ?? [])
            columns += [format(ms, 1).leftPad(13), format(ms / crun).leftPad(9)]
        }
        print(columns.joined(separator: " "))
    }
}
if options.sections.contains("many") {
    manyAtOnce(bundle, title: "50 runs of /bin/true, N at a time: wall ms, median of 3 rounds", tag: "many")
}
if let crunBundle, single || options.sections.contains("many") {
    print("")
    print("crun's default bundle (crun spec: no cgroup namespace, no seccomp; /bin/true, no terminal):")
    print("runtime   run ms   vs crun   create+start+delete ms   vs crun")
    let crunRun = median(crunBundleRunTimes["crun"] ?? []), crunLifecycle = median(crunBundleLifecycleTimes["crun"] ?? [])
    for (name, _) in binaries {
        let run = median(crunBundleRunTimes[name] ?? []), lifecycle = median(crunBundleLifecycleTimes[name] ?? [])
        print(
            [
                name + String(repeating: " ", count: max(0, 8 - name.count)), format(run).leftPad(7), format(run / crunRun).leftPad(9),
                format(lifecycle).leftPad(24), format(lifecycle / crunLifecycle).leftPad(9),
            ].joined(separator: " "))
    }
    if options.sections.contains("many") {
        manyAtOnce(crunBundle, title: "the same bundle, 50 runs N at a time: wall ms, median of 3 rounds", tag: "many-crun")
    }
}

// MARK: - the tail: create→start and delete latency with many creators at once

/// Latencies (ms) of each operation one kind of work saw.
struct Latencies {
    var createStart: [Double] = []
    var delete: [Double] = []
}

/// A step of one container's life in the tail's loops.
enum TailStep { case create, start, delete }

/// `creators` loops at once, each running the steps of one container after another until
/// `total` containers have lived: `command` gives a step's command line for a container id
/// (the program first), nil for a step that kind of work has not (the kernel floor has only
/// `create`). The latency of every create→start (create's spawn to start's exit) and every
/// delete. One thread reaps all of them, so a runtime's latency includes only its own waits
/// and the machine's load.
func tailLatencies(creators: Int, total: Int, tag: String, command: (TailStep, String) -> [String]?) -> Latencies {
    var latencies = Latencies()
    var running: [pid_t: (step: TailStep, id: String, began: Double)] = [:]
    var launched = 0
    let quiet: [Int32: Subprocess.Stream] = [0: .file("/dev/null", flags: O_RDONLY), 1: .file("/dev/null", flags: O_WRONLY), 2: .file("/dev/null", flags: O_WRONLY)]
    /// Starts `step` of `id`; false if this kind of work has no such step.
    func spawn(_ step: TailStep, _ id: String, began: Double) -> Bool {
        guard let line = command(step, id) else { return false }
        do throws(SystemError) {
            running[try Subprocess.spawn(line[0], Array(line.dropFirst()), streams: quiet)] = (step, id, began)
        } catch { fatal(error.description) }
        return true
    }
    func next() {
        guard launched < total else { return }
        _ = spawn(.create, "\(tag)-\(launched)", began: now())
        launched += 1
    }
    for _ in 0..<creators { next() }
    while !running.isEmpty {
        var status: Int32 = 0
        let done = waitpid(-1, &status, 0)
        if done < 0 {
            if errno == EINTR { continue }
            fatal(SystemError("waiting for the creators", errno: errno).description)
        }
        guard let (step, id, began) = running.removeValue(forKey: done) else { continue }
        if status != 0 { fatal("\(command(step, id)?[0] ?? "") \(step) of \(id) failed with wait status \(status) (\(creators) creators)") }
        let time = now()
        switch step {
        case .create:
            if spawn(.start, id, began: began) { continue }
            latencies.createStart.append(time - began)
            next()
        case .start:
            latencies.createStart.append(time - began)
            if !spawn(.delete, id, began: time) { next() }
        case .delete:
            latencies.delete.append(time - began)
            next()
        }
    }
    return latencies
}

/// The nearest-rank percentile `p` (0–100) of `values`.
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// Containers per level and runtime: p99 is the 6th slowest, not one outlier.
let tailContainers = 600

/// p50, p99 and max of create→start and of delete at 8, 32 and 100 creators, every runtime
/// (orders alternating over rounds), beside the kernel floor at the same concurrency; each
/// batch starts once the namespaces of the batch before are torn down (`settle`).
@MainActor func tail(_ bundle: String, title: String, tag: String) {
    let levels = [8, 32, 100], total = tailContainers, rounds = 3
    var samples: [String: [Int: Latencies]] = [:]
    for round in 0..<rounds {
        for creators in levels {
            for (name, path) in orders[round % orders.count] {
                settle(to: namespacesAtStart)
                let root = "\(work)/run/state-\(name)"
                let seen = tailLatencies(creators: creators, total: total / rounds, tag: "\(tag)-\(creators)-\(round)") { step, id in
                    switch step {
                    case .create: [path, "--root", root, "create", "--bundle", bundle, id]
                    case .start: [path, "--root", root, "start", id]
                    case .delete: [path, "--root", root, "delete", "--force", id]
                    }
                }
                samples[name, default: [:]][creators, default: Latencies()].createStart += seen.createStart
                samples[name, default: [:]][creators, default: Latencies()].delete += seen.delete
            }
            if let unshareTool {
                settle(to: namespacesAtStart)
                let command = [unshareTool, "--fork", "--pid", "--net", "--ipc", "--uts", "--mount", "chroot", rootfs, "/bin/true"]
                let seen = tailLatencies(creators: creators, total: total / rounds, tag: "floor") { step, _ in step == .create ? command : nil }
                samples["floor", default: [:]][creators, default: Latencies()].createStart += seen.createStart
            }
        }
    }
    print("")
    print(title)
    print("runtime   creators   create→start p50   p99      max   p99 vs crun   delete p50      p99      max   p99 vs crun")
    for name in binaries.map(\.name) + (unshareTool == nil ? [] : ["floor"]) {
        for creators in levels {
            guard let seen = samples[name]?[creators] else { continue }
            let crun = samples["crun"]?[creators]
            var columns = [name + String(repeating: " ", count: max(0, 8 - name.count)), String(creators).leftPad(9)]
            columns += [percentile(seen.createStart, 50), percentile(seen.createStart, 99), percentile(seen.createStart, 100)].map { format($0, 1).leftPad(8) }
            columns[2] = columns[2].leftPad(18)
            columns.append(format(percentile(seen.createStart, 99) / percentile(crun?.createStart ?? [], 99)).leftPad(13))
            if !seen.delete.isEmpty {
                columns += [percentile(seen.delete, 50), percentile(seen.delete, 99), percentile(seen.delete, 100)].map { format($0, 1).leftPad(8) }
                columns[6] = columns[6].leftPad(12)
                columns.append(format(percentile(seen.delete, 99) / percentile(crun?.delete ?? [], 99)).leftPad(13))
            }
            let slowest = max(seen.createStart.max() ?? 0, seen.delete.max() ?? 0)
            print(columns.joined(separator: " ") + (slowest > 2000 ? "   (an operation over 2 s)" : ""))
        }
    }
}
if options.sections.contains("tail") {
    tail(
        bundle,
        title: "The tail: \(tailContainers) containers per level, N creators each creating, starting and deleting one after another (ms; floor: unshare+chroot+exec)",
        tag: "tail")
    if let crunBundle { tail(crunBundle, title: "The same on crun's default bundle:", tag: "tail-crun") }
}

// MARK: - networked tasks (skiff only: neither crun nor runc has them)

/// The bench process moves to a network namespace of its own, which plays the node: the
/// bridge, veths and rules are made there and vanish with it (the machine's own network
/// is never touched).
if let skiff = binaries.first(where: { $0.name == "skiff" })?.path, options.sections.contains("network") {
    guard skiff_unshare(Int32(SKIFF_CLONE_NEWNET)) == 0 else { fatal(SystemError("unshare(CLONE_NEWNET)", errno: errno).description) }
    let namespacesBefore = namespaceCount()
    let annotations =
        #"{"io.skiff.network.groups": "web", "io.skiff.network.ingress": "tcp 5432 web; tcp 8000-8080 10.77.0.0/16; icmp web", "io.skiff.network.egress": "any 10.77.0.0/16"}"#
    mkdir(work + "/networked", 0o755)
    writeFile(work + "/networked/config.json", bundleConfig(rootfs: rootfs, annotations: annotations))
    mkdir(work + "/networked-sleeper", 0o755)
    writeFile(work + "/networked-sleeper/config.json", bundleConfig(rootfs: rootfs, args: #"["/bin/sleep", "100000"]"#, annotations: annotations))
    let root = "\(work)/run/state-network"
    var plain: [Double] = [], networked: [Double] = []
    for round in 0..<options.iterations {
        // Alternating, so both see the same machine (and the kernel's deferred work of
        // the one before: a namespace and its veth are freed after the task is gone).
        plain.append(milliseconds(lifecycle(skiff, root: root, bundle: bundle, id: "plain-\(round)")))
        networked.append(milliseconds(lifecycle(skiff, root: root, bundle: work + "/networked", id: "net-\(round)")))
    }
    // Back to back, each on its own: the steady cost per task, deferred kernel work included.
    let wall = { (bundle: String, name: String) -> Double in
        let start = now()
        for round in 0..<options.iterations { _ = lifecycle(skiff, root: root, bundle: bundle, id: "\(name)-\(round)") }
        return (now() - start) / Double(options.iterations)
    }
    let plainWall = wall(bundle, "plain-wall"), networkedWall = wall(work + "/networked", "net-wall")
    print("")
    print("networked task (veth, leased address, 3 ingress rules + 1 egress rule, group membership), create+start+delete of /bin/true:")
    print(
        "  alternating, medians: with network \(format(median(networked))) ms, without \(format(median(plain))) ms: network setup + teardown \(format(median(networked) - median(plain))) ms per task"
    )
    print(
        "  back to back, \(options.iterations) of each, mean wall time per task: with network \(format(networkedWall)) ms, without \(format(plainWall)) ms: \(format(networkedWall - plainWall)) ms per task"
    )
    // The peer: what containerd's CRI and CNI-era podman do per task, on the same machine
    // and in the same node namespace — crun's container, with the CNI bridge plugin
    // (host-local addresses) and the firewall plugin ADDed after create and DELeted before
    // delete (bench/cni-task.sh chains them as libcni does).
    let cniScript = access("bench/cni-task.sh", X_OK) == 0 ? "bench/cni-task.sh" : nil  // `make bench` runs in the repository
    var cniNetworkMedian: Double?
    if let crun = binaries.first(where: { $0.name == "crun" })?.path, let cniScript, access("/usr/lib/cni/bridge", X_OK) == 0 {
        let cniState = work + "/cni"
        mkdir(cniState, 0o755)
        let crunRoot = "\(work)/run/state-crun-cni"
        var cniNetwork: [Double] = [], cniLifecycle: [Double] = []
        for round in 0..<options.iterations {
            let id = "cni-\(round)", pidFile = "\(cniState)/\(id).pid"
            let create = measure([crun, "--root", crunRoot, "create", "--bundle", bundle, "--pid-file", pidFile, id]).milliseconds
            let pid = String(decoding: (try? readFile(pidFile)) ?? [], as: UTF8.self).trimmingWhitespace
            let add = measure(["/bin/sh", cniScript, "ADD", id, "/proc/\(pid)/ns/net", cniState]).milliseconds
            let start = measure([crun, "--root", crunRoot, "start", id]).milliseconds
            let del = measure(["/bin/sh", cniScript, "DEL", id, "/proc/\(pid)/ns/net", cniState]).milliseconds
            let delete = measure([crun, "--root", crunRoot, "delete", "--force", id]).milliseconds
            cniNetwork.append(add + del)
            cniLifecycle.append(create + add + start + del + delete)
        }
        cniNetworkMedian = median(cniNetwork)
        let skiffNetwork = median(networked) - median(plain)
        print(
            "  the CNI path (crun + bridge/host-local + firewall plugins, ADD at create, DEL at delete): ADD+DEL \(format(median(cniNetwork))) ms per task,"
                + " create+start+delete with it \(format(median(cniLifecycle))) ms; skiff's network \(format(skiffNetwork)) ms"
                + " (\(format(median(cniNetwork) / max(skiffNetwork, 0.01), 1))x less), its networked task \(format(median(networked))) ms"
                + " (\(format(median(networked) / median(cniLifecycle))) of the CNI path's)")
    }
    // skiff as the CNI plugin, for the same crun containers and the same rules: ADD after
    // create, DEL before delete (bench/skiff-cni.sh), then 200 pods on one bridge.
    let pluginScript = access("bench/skiff-cni.sh", X_OK) == 0 ? "bench/skiff-cni.sh" : nil
    if let crun = binaries.first(where: { $0.name == "crun" })?.path, let pluginScript {
        let pluginState = work + "/skiff-cni"
        mkdir(pluginState, 0o755)
        let config = pluginState + "/skiff.conf"
        writeFile(
            config,
            #"{"cniVersion": "1.0.0", "name": "bench", "type": "skiff", "bridge": "skiff-cni0", "subnet": "10.88.0.0/16", "#
                + #""groups": "web", "ingress": "tcp 5432 web; tcp 8000-8080 10.88.0.0/16; icmp web", "egress": "any 10.88.0.0/16"}"#)
        let crunRoot = "\(work)/run/state-crun-plugin"
        func pod(_ id: String) -> String {
            let pidFile = "\(pluginState)/\(id).pid"
            _ = measure([crun, "--root", crunRoot, "create", "--bundle", bundle, "--pid-file", pidFile, id])
            return "/proc/" + String(decoding: (try? readFile(pidFile)) ?? [], as: UTF8.self).trimmingWhitespace + "/ns/net"
        }
        func plugin(_ command: String, _ id: String, _ netns: String) -> Double {
            measure(["/bin/sh", pluginScript, command, id, netns, skiff, config]).milliseconds
        }
        var pluginNetwork: [Double] = []
        for round in 0..<options.iterations {
            let id = "plugin-\(round)"
            let netns = pod(id)
            pluginNetwork.append(plugin("ADD", id, netns) + plugin("DEL", id, netns))
            _ = measure([crun, "--root", crunRoot, "delete", "--force", id])
        }
        var chain = ""
        if let cni = cniNetworkMedian { chain = " (\(format(median(pluginNetwork) / cni)) of the bridge+host-local+firewall chain's \(format(cni)) ms)" }
        print("  skiff as the CNI plugin (crun's containers, the same rules): ADD+DEL \(format(median(pluginNetwork))) ms per pod\(chain)")
        let pods = 200
        var adds: [Double] = [], dels: [Double] = []
        var namespaces: [String] = []
        for n in 0..<pods { namespaces.append(pod("pod-\(n)")) }
        for n in 0..<pods { adds.append(plugin("ADD", "pod-\(n)", namespaces[n])) }
        for n in 0..<pods { dels.append(plugin("DEL", "pod-\(n)", namespaces[n])) }
        for n in 0..<pods { _ = measure([crun, "--root", crunRoot, "delete", "--force", "pod-\(n)"]) }
        let firstAdds = adds.prefix(10).reduce(0, +) / 10, lastAdds = adds.suffix(10).reduce(0, +) / 10
        print(
            "  \(pods) pods on one bridge through the plugin: ADD of pods 1-10 \(format(firstAdds)) ms, of pods \(pods - 9)-\(pods) \(format(lastAdds)) ms"
                + " (\(format(lastAdds / max(firstAdds, 0.01))) of the first); DEL with \(pods) pods \(format(dels.prefix(10).reduce(0, +) / 10)) ms, with 10 left \(format(dels.suffix(10).reduce(0, +) / 10)) ms"
        )
    }
    // 1,000 tasks staying on one bridge: does the 1,000th cost more than the 10th? And what
    // does the node hold per task (kernel memory, and the nftables ruleset's size)?
    func unreclaimableKiB() -> Double {
        let text = String(decoding: (try? readFile("/proc/meminfo")) ?? [], as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix("SUnreclaim:") } ?? ""
        return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    func rulesetBytes() -> Double {
        Double(system("nft list ruleset > \(work)/ruleset 2>/dev/null") == 0 ? ((try? readFile(work + "/ruleset"))?.count ?? 0) : 0)
    }
    let live = 1000
    // Beside the first and the last ten, the same sleeper without a network by skiff and by
    // crun, each right after the networked one: what a node of 1,000 containers costs the
    // next one whatever runtime makes it (the kernel's walks over every process, namespace and
    // cgroup), measured in the same moments as the networked growth (single runs of each,
    // minutes apart, differed by more than the growth itself).
    mkdir(work + "/plain-sleeper", 0o755)
    writeFile(work + "/plain-sleeper/config.json", bundleConfig(rootfs: rootfs, args: #"["/bin/sleep", "100000"]"#))
    let plainRuntimes = [("skiff", skiff), ("crun", binaries.first(where: { $0.name == "crun" })?.path)].compactMap { name, path in path.map { (name: name, path: $0) } }
    var plainCreates: [String: [Double]] = [:]
    let probedTasks = Array(0..<10) + Array((live - 10)..<live)
    /// The medians of the first and of the last ten of `times`.
    func firstAndLastTen(_ times: [Double]) -> (first: Double, last: Double) { (median(Array(times.prefix(10))), median(Array(times.suffix(10)))) }
    settle(to: namespacesBefore)
    let memoryBefore = unreclaimableKiB(), rulesetBefore = rulesetBytes()
    var creates: [Double] = [], deletes: [Double] = []
    for i in 0..<live {
        creates.append(measure([skiff, "--root", root, "run", "--detach", "--bundle", work + "/networked-sleeper", "live-\(i)"]).milliseconds)
        guard probedTasks.contains(i) else { continue }
        for (name, path) in plainRuntimes {
            let command = [path, "--root", "\(work)/run/state-plain-\(name)", "run", "--detach", "--bundle", work + "/plain-sleeper", "plain-\(i)"]
            plainCreates[name, default: []].append(measure(command).milliseconds)
        }
    }
    let memoryPerTask = (unreclaimableKiB() - memoryBefore) / Double(live), rulesetPerTask = (rulesetBytes() - rulesetBefore) / Double(live)
    for i in 0..<live { deletes.append(measure([skiff, "--root", root, "delete", "--force", "live-\(i)"]).milliseconds) }
    for (name, path) in plainRuntimes {
        for i in probedTasks { _ = measure([path, "--root", "\(work)/run/state-plain-\(name)", "delete", "--force", "plain-\(i)"]) }
    }
    let (tenth, last) = firstAndLastTen(creates), (deleteFirst, deleteLast) = firstAndLastTen(deletes)
    print(
        "  \(live) live tasks on one bridge: run -d of tasks 1-10 \(format(tenth)) ms, of tasks \(live - 9)-\(live) \(format(last)) ms (\(format(last / tenth)) of the first, +\(format(last - tenth)) ms);"
            + " delete (\(live) tasks left) \(format(deleteFirst)) ms, (10 left) \(format(deleteLast)) ms;"
            + " per live task the node holds \(format(memoryPerTask, 1)) KiB of unreclaimable kernel memory (namespace, veth, rules, the task) and \(format(rulesetPerTask, 0)) bytes of nftables ruleset text"
    )
    let plainGrowth = plainRuntimes.map { runtime in
        let (first, last) = firstAndLastTen(plainCreates[runtime.name] ?? [])
        return "\(runtime.name) \(format(first)) / \(format(last)) ms (\(format(last / first)), +\(format(last - first)) ms)"
    }
    print("    beside them, the same sleeper without a network, run -d beside tasks 1-10 / \(live - 9)-\(live): " + plainGrowth.joined(separator: "; "))
}
umount2(work + "/run", Int32(MNT_DETACH))
_ = system("rm -rf \(work)")

extension String {
    func leftPad(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
