// SPDX-License-Identifier: Apache-2.0
import CShims
import Glibc
import SkiffSpec
import SkiffSystem

/// Applies a `ResourcePlan` to a container's cgroup: each write to the directory of the
/// hierarchy that carries its controller, device rules as v1 writes or a v2 eBPF program.
struct CgroupWriter {
    var cgroup: ContainerCgroup
    var system: CgroupSystem

    func apply(_ plan: ResourcePlan) throws(CgroupError) {
        var pending = plan.writes[...]
        while let write = pending.popFirst() {
            do {
                try apply(write)
            } catch let error where error.errno == EINVAL && write.candidates.first?.file == "memory.limit_in_bytes" {
                // v1 needs memsw >= limit at every moment: raising both, memsw goes first.
                guard let memsw = pending.firstIndex(where: { $0.candidates.first?.file == "memory.memsw.limit_in_bytes" }) else { throw error }
                try apply(pending.remove(at: memsw))
                try apply(write)
            }
        }
        if let devices = plan.devices { try apply(devices) }
    }

    private func directory(for write: CgroupWrite) throws(CgroupError) -> ContainerCgroup.Directory {
        if write.controller == CgroupWrite.unified {
            guard let unified = cgroup.directories.first(where: { $0.version == .v2 }) else {
                throw CgroupError("\(write.field):", path: "linux.resources.unified", reason: "this host has no cgroup v2 hierarchy")
            }
            return unified
        }
        guard let directory = cgroup.directory(for: write.controller) else {
            throw CgroupError("\(write.field):", path: "the \(write.controller) controller", reason: "not available on this host")
        }
        return directory
    }

    private func apply(_ write: CgroupWrite) throws(CgroupError) {
        let directory = try directory(for: write)
        guard let (file, value) = write.candidates.first(where: { CgroupPath.exists(directory.path + "/" + $0.file) }) else {
            let names = write.candidates.map(\.file).joined(separator: " or ")
            throw CgroupError("\(write.field):", path: names, reason: "no such file in the container's cgroup \(directory.path)")
        }
        var text = value
        if file == "cpu.max" { text = completeCPUMax(value, directory: directory.path) }
        do {
            try CgroupFiles.write(text, to: directory.path + "/" + file)
        } catch {
            // v1 refuses a memory limit below what the cgroup uses now with EBUSY: say so.
            let belowUsage = error.errno == EBUSY && (file == "memory.limit_in_bytes" || file == "memory.memsw.limit_in_bytes")
            throw CgroupError(
                "\(write.field): writing \"\(text)\" to", path: directory.path + "/" + file, errno: error.errno,
                reason: belowUsage ? "the limit is below what the container uses now" : nil)
        }
    }

    /// "quota period" with either half empty (an update naming one) keeps the current one.
    private func completeCPUMax(_ value: String, directory: String) -> String {
        let parts = value.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, parts[0].isEmpty || parts[1].isEmpty else { return value }
        let current = (CgroupFiles.read(directory + "/cpu.max") ?? "max 100000").trimmingWhitespace.split(separator: " ").map(String.init)
        let quota = parts[0].isEmpty ? (current.first ?? "max") : parts[0]
        let period = parts[1].isEmpty ? (current.count > 1 ? current[1] : "100000") : parts[1]
        return "\(quota) \(period)"
    }

    /// v1: the devices hierarchy's files. v2: an eBPF program on the v2 directory.
    private func apply(_ devices: DeviceRules) throws(CgroupError) {
        if let directory = cgroup.directory(for: "devices"), directory.version == .v1 {
            // In order, each rule a write of its own, runs of rules for one file through one
            // descriptor: a dozen path walks through cgroupfs fewer per create (they queue on
            // cgroupfs's lock while other creates make and remove cgroups).
            var runs: [(file: String, values: [String])] = []
            for write in devices.v1Writes {
                guard let (file, value) = write.candidates.first else { continue }
                if runs.last?.file == file { runs[runs.count - 1].values.append(value) } else { runs.append((file, [value])) }
            }
            for run in runs { try CgroupFiles.write(run.values, to: directory.path + "/" + run.file) }
            return
        }
        guard let unified = cgroup.unifiedDirectory else {
            throw CgroupError("linux.resources.devices:", path: "the devices controller", reason: "not available on this host")
        }
        let directory = try CgroupPath.open(unified, O_RDONLY | O_DIRECTORY)
        let program = devices.program.map { skiff_bpf_insn(code: $0.code, regs: $0.registers, off: $0.offset, imm: $0.immediate) }
        var log = [CChar](repeating: 0, count: 4096)
        let rc = program.withUnsafeBufferPointer { skiff_attach_device_program(directory.rawValue, $0.baseAddress, Int32($0.count), &log, log.count) }
        if rc != 0 {
            let verifier = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CgroupError(
                "linux.resources.devices: attaching the device program to", path: unified, errno: errno,
                reason: verifier.isEmpty ? nil : "the verifier: \(verifier)")
        }
    }
}
