// SPDX-License-Identifier: Apache-2.0
/// OCI mount options split the way mount(2) takes them: flags to set, flags to clear,
/// a propagation type, and the rest as filesystem data ("size=64k,mode=755").
public struct MountOptions: Equatable {
    var flags: Int64 = 0
    var clearedFlags: Int64 = 0
    var propagation: Int64 = 0
    var data: [String] = []
    var isBind: Bool { flags & MountFlag.bind != 0 }

    init(_ options: [String]) {
        for option in options {
            if let flag = Self.setting[option] {
                flags |= flag
            } else if let flag = Self.clearing[option] {
                clearedFlags |= flag
                flags &= ~flag
            } else if let type = Self.propagations[option] {
                propagation = type
            } else if option != "defaults" {
                data.append(option)
            }
        }
    }

    /// Every option skiff knows by name (the rest pass to the filesystem as data).
    public static var names: [String] { (Array(setting.keys) + Array(clearing.keys) + Array(propagations.keys) + ["defaults"]).sorted() }

    static let setting: [String: Int64] = [
        "ro": MountFlag.readOnly, "nosuid": MountFlag.noSuid, "nodev": MountFlag.noDev,
        "noexec": MountFlag.noExec, "sync": MountFlag.synchronous, "dirsync": MountFlag.dirSync,
        "mand": MountFlag.mandLock, "noatime": MountFlag.noAtime, "nodiratime": MountFlag.noDirAtime,
        "relatime": MountFlag.relAtime, "strictatime": MountFlag.strictAtime, "silent": MountFlag.silent,
        "bind": MountFlag.bind, "rbind": MountFlag.bind | MountFlag.recursive,
    ]
    static let clearing: [String: Int64] = [
        "rw": MountFlag.readOnly, "suid": MountFlag.noSuid, "dev": MountFlag.noDev, "exec": MountFlag.noExec,
        "async": MountFlag.synchronous, "nomand": MountFlag.mandLock, "atime": MountFlag.noAtime,
        "diratime": MountFlag.noDirAtime, "norelatime": MountFlag.relAtime,
        "nostrictatime": MountFlag.strictAtime, "loud": MountFlag.silent,
    ]
    static let propagations: [String: Int64] = [
        "private": MountFlag.privateProp, "rprivate": MountFlag.privateProp | MountFlag.recursive,
        "shared": MountFlag.shared, "rshared": MountFlag.shared | MountFlag.recursive,
        "slave": MountFlag.slave, "rslave": MountFlag.slave | MountFlag.recursive,
        "unbindable": MountFlag.unbindable, "runbindable": MountFlag.unbindable | MountFlag.recursive,
    ]
}

/// MS_* values from <linux/mount.h>.
enum MountFlag {
    static let readOnly: Int64 = 1
    static let noSuid: Int64 = 2
    static let noDev: Int64 = 4
    static let noExec: Int64 = 8
    static let synchronous: Int64 = 16
    static let remount: Int64 = 32
    static let mandLock: Int64 = 64
    static let dirSync: Int64 = 128
    static let noAtime: Int64 = 1024
    static let noDirAtime: Int64 = 2048
    static let bind: Int64 = 4096
    static let move: Int64 = 8192
    static let recursive: Int64 = 16384
    static let silent: Int64 = 32768
    static let unbindable: Int64 = 1 << 17
    static let privateProp: Int64 = 1 << 18
    static let slave: Int64 = 1 << 19
    static let shared: Int64 = 1 << 20
    static let relAtime: Int64 = 1 << 21
    static let strictAtime: Int64 = 1 << 24
}
