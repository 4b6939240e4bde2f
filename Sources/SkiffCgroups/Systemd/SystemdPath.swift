// SPDX-License-Identifier: Apache-2.0
import SkiffSpec

/// `linux.cgroupsPath` in systemd's form, `slice:prefix:name` (runc's reading): the container
/// runs in the transient scope `prefix-name.scope` inside `slice`, e.g.
/// `kubepods-burstable-pod1234.slice:cri-containerd:abc` or `machine.slice:libpod:<id>`. An
/// empty slice is `system.slice` (`user.slice` for a user's manager); an empty path is
/// `system.slice:skiff:<id>`.
public struct SystemdPath: Sendable, Equatable {
    public var slice: String
    public var unit: String

    static let field = "linux.cgroupsPath"

    public init(cgroupsPath: String?, id: String, defaultSlice: String = "system.slice") throws(SpecError) {
        let given = cgroupsPath ?? ""
        guard !given.isEmpty else {
            self.init(slice: defaultSlice, unit: "skiff-\(id).scope")
            try Self.checkUnitName(unit, what: "the unit")
            return
        }
        let parts = given.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else {
            throw SpecError(Self.field, "\"\(given)\" is not slice:prefix:name (the systemd cgroup driver's form)")
        }
        let slice = parts[0].isEmpty ? defaultSlice : parts[0]
        guard slice.hasSuffix(".slice") else { throw SpecError(Self.field, "\"\(slice)\" is not a slice (a unit name ending in .slice)") }
        guard !parts[2].isEmpty else { throw SpecError(Self.field, "\"\(given)\": the name is empty") }
        // runc's library reads a name ending in .slice as a slice to make. A container's unit
        // is a scope: a slice it made (user-0.slice before root logs in) would take in units
        // that are not the container's, bind them by its limits, and stop them on delete.
        guard !parts[2].hasSuffix(".slice") else {
            throw SpecError(Self.field, "\"\(given)\": the name is a slice; a container's unit is a scope (a slice would take in other units and stop them with it)")
        }
        let unit = (parts[1].isEmpty ? "" : parts[1] + "-") + parts[2] + ".scope"
        try Self.checkUnitName(slice, what: "the slice")
        try Self.checkUnitName(unit, what: "the unit")
        _ = try Self.expand(slice)
        self.init(slice: slice, unit: unit)
    }

    init(slice: String, unit: String) {
        self.slice = slice
        self.unit = unit
    }

    /// systemd's unit names: letters, digits, ":", "-", "_", ".", "\\" (escapes), at most 255.
    static func checkUnitName(_ name: String, what: String) throws(SpecError) {
        guard (1...255).contains(name.utf8.count) else { throw SpecError(field, "\(what) \"\(name)\" must have 1 to 255 characters") }
        let allowed = name.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                || b == UInt8(ascii: ":") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: "\\")
        }
        guard allowed else { throw SpecError(field, "\(what) \"\(name)\" has characters systemd does not allow in a unit name") }
    }

    /// The cgroup path of a slice, by systemd's nesting rule: `a-b-c.slice` lives in
    /// `a-b.slice`, in `a.slice`: `/a.slice/a-b.slice/a-b-c.slice`. `-.slice` is the root.
    public static func expand(_ slice: String) throws(SpecError) -> String {
        guard slice.hasSuffix(".slice") else { throw SpecError(field, "\"\(slice)\" is not a slice") }
        if slice == "-.slice" { return "/" }
        let name = slice.dropLast(".slice".count)
        guard !name.contains("/") else { throw SpecError(field, "the slice \"\(slice)\" must not contain \"/\"") }
        var path = "", prefix = ""
        for component in name.split(separator: "-", omittingEmptySubsequences: false) {
            guard !component.isEmpty else { throw SpecError(field, "the slice \"\(slice)\" has an empty part between dashes") }
            prefix += (prefix.isEmpty ? "" : "-") + component
            path += "/" + prefix + ".slice"
        }
        return path
    }

    /// Where the unit's cgroup is, below the v2 hierarchy's root: inside its slice.
    public var cgroupPath: String {
        let slicePath = (try? Self.expand(slice)) ?? "/"
        return (slicePath == "/" ? "" : slicePath) + "/" + unit
    }
}
