// SPDX-License-Identifier: Apache-2.0
/// The OCI runtime-spec 1.3 `config.json`, as far as Linux containers use it.
///
/// Every field of the specification decodes; fields this model does not name (other
/// platforms, future additions) are tolerated and ignored, as the specification requires.
/// Types follow the specification's Go reference (`specs-go/config.go`) so that a value
/// that round-trips through runc round-trips through skiff.
public struct Spec: Sendable, Equatable {
    /// The runtime-spec version skiff implements: what it writes and what it reports.
    public static let version = "1.3.0"

    public var ociVersion: String
    public var process: Process?
    public var root: Root?
    public var hostname: String?
    public var domainname: String?
    public var mounts: [Mount]?
    public var hooks: Hooks?
    public var annotations: [String: String]?
    public var linux: Linux?

    public init(
        ociVersion: String, process: Process? = nil, root: Root? = nil, hostname: String? = nil,
        domainname: String? = nil, mounts: [Mount]? = nil, hooks: Hooks? = nil,
        annotations: [String: String]? = nil, linux: Linux? = nil
    ) {
        self.ociVersion = ociVersion
        self.process = process
        self.root = root
        self.hostname = hostname
        self.domainname = domainname
        self.mounts = mounts
        self.hooks = hooks
        self.annotations = annotations
        self.linux = linux
    }
}

// MARK: - Process

extension Spec {
    public struct Process: Sendable, Equatable {
        public var terminal: Bool?
        public var consoleSize: ConsoleSize?
        public var user: User
        public var args: [String]?
        public var commandLine: String?
        public var env: [String]?
        public var cwd: String
        public var capabilities: Capabilities?
        public var rlimits: [Rlimit]?
        public var noNewPrivileges: Bool?
        public var apparmorProfile: String?
        public var oomScoreAdj: Int?
        public var scheduler: Scheduler?
        public var selinuxLabel: String?
        public var ioPriority: IOPriority?
        public var execCPUAffinity: CPUAffinity?

        public init(
            terminal: Bool? = nil, user: User = User(), args: [String], env: [String]? = nil,
            cwd: String = "/", capabilities: Capabilities? = nil, rlimits: [Rlimit]? = nil,
            noNewPrivileges: Bool? = nil
        ) {
            self.terminal = terminal
            self.user = user
            self.args = args
            self.env = env
            self.cwd = cwd
            self.capabilities = capabilities
            self.rlimits = rlimits
            self.noNewPrivileges = noNewPrivileges
        }
    }

    public struct ConsoleSize: Sendable, Equatable {
        public var height: UInt
        public var width: UInt

        public init(height: UInt, width: UInt) {
            self.height = height
            self.width = width
        }
    }

    public struct User: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var umask: UInt32?
        public var additionalGids: [UInt32]?
        public var username: String?

        public init(uid: UInt32 = 0, gid: UInt32 = 0, umask: UInt32? = nil, additionalGids: [UInt32]? = nil) {
            self.uid = uid
            self.gid = gid
            self.umask = umask
            self.additionalGids = additionalGids
        }
    }

    public struct Capabilities: Sendable, Equatable {
        public var bounding: [String]?
        public var effective: [String]?
        public var inheritable: [String]?
        public var permitted: [String]?
        public var ambient: [String]?

        public init(
            bounding: [String]? = nil, effective: [String]? = nil, inheritable: [String]? = nil,
            permitted: [String]? = nil, ambient: [String]? = nil
        ) {
            self.bounding = bounding
            self.effective = effective
            self.inheritable = inheritable
            self.permitted = permitted
            self.ambient = ambient
        }
    }

    public struct Rlimit: Sendable, Equatable {
        public var type: String
        public var hard: UInt64
        public var soft: UInt64

        public init(type: String, hard: UInt64, soft: UInt64) {
            self.type = type
            self.hard = hard
            self.soft = soft
        }
    }

    public struct Scheduler: Sendable, Equatable {
        public var policy: String
        public var nice: Int32?
        public var priority: Int32?
        public var flags: [String]?
        public var runtime: UInt64?
        public var deadline: UInt64?
        public var period: UInt64?

        public init(
            policy: String, nice: Int32? = nil, priority: Int32? = nil, flags: [String]? = nil, runtime: UInt64? = nil,
            deadline: UInt64? = nil, period: UInt64? = nil
        ) {
            self.policy = policy
            self.nice = nice
            self.priority = priority
            self.flags = flags
            self.runtime = runtime
            self.deadline = deadline
            self.period = period
        }
    }

    public struct IOPriority: Sendable, Equatable {
        public var `class`: String
        public var priority: Int

        public init(class ioClass: String, priority: Int) {
            self.class = ioClass
            self.priority = priority
        }
    }

    public struct CPUAffinity: Sendable, Equatable {
        public var initial: String?
        public var final: String?

        public init(initial: String? = nil, final: String? = nil) {
            self.initial = initial
            self.final = final
        }
    }
}

// MARK: - Root, mounts, hooks

extension Spec {
    public struct Root: Sendable, Equatable {
        public var path: String
        public var readonly: Bool?

        public init(path: String, readonly: Bool? = nil) {
            self.path = path
            self.readonly = readonly
        }
    }

    public struct Mount: Sendable, Equatable {
        public var destination: String
        public var type: String?
        public var source: String?
        public var options: [String]?
        public var uidMappings: [IDMapping]?
        public var gidMappings: [IDMapping]?

        /// A bind mount: of type `bind`, or with the `bind` or `rbind` option (runc's reading).
        public var isBind: Bool { type == "bind" || options?.contains { $0 == "bind" || $0 == "rbind" } == true }

        public init(destination: String, type: String? = nil, source: String? = nil, options: [String]? = nil) {
            self.destination = destination
            self.type = type
            self.source = source
            self.options = options
        }
    }

    public struct Hooks: Sendable, Equatable {
        public var prestart: [Hook]?
        public var createRuntime: [Hook]?
        public var createContainer: [Hook]?
        public var startContainer: [Hook]?
        public var poststart: [Hook]?
        public var poststop: [Hook]?

        public init(
            prestart: [Hook]? = nil, createRuntime: [Hook]? = nil, createContainer: [Hook]? = nil,
            startContainer: [Hook]? = nil, poststart: [Hook]? = nil, poststop: [Hook]? = nil
        ) {
            self.prestart = prestart
            self.createRuntime = createRuntime
            self.createContainer = createContainer
            self.startContainer = startContainer
            self.poststart = poststart
            self.poststop = poststop
        }
    }

    public struct Hook: Sendable, Equatable {
        public var path: String
        public var args: [String]?
        public var env: [String]?
        public var timeout: Int?

        public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
            self.path = path
            self.args = args
            self.env = env
            self.timeout = timeout
        }
    }
}

// MARK: - Linux

extension Spec {
    public struct Linux: Sendable, Equatable {
        public var uidMappings: [IDMapping]?
        public var gidMappings: [IDMapping]?
        public var sysctl: [String: String]?
        public var resources: Resources?
        public var cgroupsPath: String?
        public var namespaces: [Namespace]?
        public var devices: [Device]?
        public var netDevices: [String: NetDevice]?
        public var seccomp: Seccomp?
        public var rootfsPropagation: String?
        public var maskedPaths: [String]?
        public var readonlyPaths: [String]?
        public var mountLabel: String?
        public var intelRdt: IntelRdt?
        public var personality: Personality?
        public var timeOffsets: [String: TimeOffset]?
        /// The NUMA memory policy of the container's processes (runtime-spec 1.3).
        public var memoryPolicy: MemoryPolicy?

        public init(
            namespaces: [Namespace]? = nil, resources: Resources? = nil, seccomp: Seccomp? = nil, cgroupsPath: String? = nil,
            devices: [Device]? = nil, maskedPaths: [String]? = nil, readonlyPaths: [String]? = nil
        ) {
            self.namespaces = namespaces
            self.resources = resources
            self.seccomp = seccomp
            self.cgroupsPath = cgroupsPath
            self.devices = devices
            self.maskedPaths = maskedPaths
            self.readonlyPaths = readonlyPaths
        }
    }

    public struct IDMapping: Sendable, Equatable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var size: UInt32

        public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
            self.containerID = containerID
            self.hostID = hostID
            self.size = size
        }
    }

    public struct Namespace: Sendable, Equatable {
        /// Kept as the string from the file so validation can quote an unknown name.
        public var type: String
        public var path: String?

        public init(type: String, path: String? = nil) {
            self.type = type
            self.path = path
        }

        public init(_ kind: NamespaceKind, path: String? = nil) {
            self.init(type: kind.rawValue, path: path)
        }

        public var kind: NamespaceKind? { NamespaceKind(rawValue: type) }
    }

    public enum NamespaceKind: String, Sendable, CaseIterable {
        case pid, network, mount, ipc, uts, user, cgroup, time
    }

    public struct Device: Sendable, Equatable {
        public var type: String
        public var path: String
        public var major: Int64?
        public var minor: Int64?
        public var fileMode: UInt32?
        public var uid: UInt32?
        public var gid: UInt32?

        public init(
            type: String, path: String, major: Int64? = nil, minor: Int64? = nil,
            fileMode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil
        ) {
            self.type = type
            self.path = path
            self.major = major
            self.minor = minor
            self.fileMode = fileMode
            self.uid = uid
            self.gid = gid
        }
    }

    public struct NetDevice: Sendable, Equatable {
        public var name: String?

        public init(name: String? = nil) { self.name = name }
    }

    public struct Personality: Sendable, Equatable {
        public var domain: String
        public var flags: [String]?

        public init(domain: String, flags: [String]? = nil) {
            self.domain = domain
            self.flags = flags
        }
    }

    public struct TimeOffset: Sendable, Equatable {
        public var secs: Int64?
        public var nanosecs: UInt32?

        public init(secs: Int64? = nil, nanosecs: UInt32? = nil) {
            self.secs = secs
            self.nanosecs = nanosecs
        }
    }

    /// set_mempolicy(2) for the container's processes: `mode` (MPOL_*), `nodes` ("0-3,7"),
    /// `flags` (MPOL_F_*).
    public struct MemoryPolicy: Sendable, Equatable {
        public var mode: String?
        public var nodes: String?
        public var flags: [String]?

        public init(mode: String?, nodes: String? = nil, flags: [String]? = nil) {
            self.mode = mode
            self.nodes = nodes
            self.flags = flags
        }
    }

    public struct IntelRdt: Sendable, Equatable {
        public var closID: String?
        public var l3CacheSchema: String?
        public var memBwSchema: String?
        public var schemata: [String]?
        public var enableMonitoring: Bool?
        public var enableCMT: Bool?
        public var enableMBM: Bool?

        public init(closID: String? = nil) { self.closID = closID }
    }
}

// MARK: - Resources

extension Spec {
    public struct Resources: Sendable, Equatable {
        public var devices: [DeviceCgroup]?
        public var memory: Memory?
        public var cpu: CPU?
        public var pids: Pids?
        public var blockIO: BlockIO?
        public var hugepageLimits: [HugepageLimit]?
        public var network: Network?
        public var rdma: [String: Rdma]?
        public var unified: [String: String]?

        public init(memory: Memory? = nil, cpu: CPU? = nil, pids: Pids? = nil, devices: [DeviceCgroup]? = nil) {
            self.memory = memory
            self.cpu = cpu
            self.pids = pids
            self.devices = devices
        }
    }

    public struct DeviceCgroup: Sendable, Equatable {
        public var allow: Bool
        public var type: String?
        public var major: Int64?
        public var minor: Int64?
        public var access: String?

        public init(allow: Bool, type: String? = nil, major: Int64? = nil, minor: Int64? = nil, access: String? = nil) {
            self.allow = allow
            self.type = type
            self.major = major
            self.minor = minor
            self.access = access
        }
    }

    public struct Memory: Sendable, Equatable {
        public var limit: Int64?
        public var reservation: Int64?
        public var swap: Int64?
        public var kernel: Int64?
        public var kernelTCP: Int64?
        public var swappiness: UInt64?
        public var disableOOMKiller: Bool?
        public var useHierarchy: Bool?
        public var checkBeforeUpdate: Bool?

        public init(limit: Int64? = nil, reservation: Int64? = nil, swap: Int64? = nil) {
            self.limit = limit
            self.reservation = reservation
            self.swap = swap
        }
    }

    public struct CPU: Sendable, Equatable {
        public var shares: UInt64?
        public var quota: Int64?
        public var burst: UInt64?
        public var period: UInt64?
        public var realtimeRuntime: Int64?
        public var realtimePeriod: UInt64?
        public var cpus: String?
        public var mems: String?
        public var idle: Int64?

        public init(shares: UInt64? = nil, quota: Int64? = nil, period: UInt64? = nil, cpus: String? = nil, mems: String? = nil) {
            self.shares = shares
            self.quota = quota
            self.period = period
            self.cpus = cpus
            self.mems = mems
        }
    }

    public struct Pids: Sendable, Equatable {
        public var limit: Int64

        public init(limit: Int64) { self.limit = limit }
    }

    public struct BlockIO: Sendable, Equatable {
        public var weight: UInt16?
        public var leafWeight: UInt16?
        public var weightDevice: [WeightDevice]?
        public var throttleReadBpsDevice: [ThrottleDevice]?
        public var throttleWriteBpsDevice: [ThrottleDevice]?
        public var throttleReadIOPSDevice: [ThrottleDevice]?
        public var throttleWriteIOPSDevice: [ThrottleDevice]?

        public init(
            weight: UInt16? = nil, weightDevice: [WeightDevice]? = nil,
            throttleReadBpsDevice: [ThrottleDevice]? = nil, throttleWriteBpsDevice: [ThrottleDevice]? = nil,
            throttleReadIOPSDevice: [ThrottleDevice]? = nil, throttleWriteIOPSDevice: [ThrottleDevice]? = nil
        ) {
            self.weight = weight
            self.weightDevice = weightDevice
            self.throttleReadBpsDevice = throttleReadBpsDevice
            self.throttleWriteBpsDevice = throttleWriteBpsDevice
            self.throttleReadIOPSDevice = throttleReadIOPSDevice
            self.throttleWriteIOPSDevice = throttleWriteIOPSDevice
        }
    }

    public struct WeightDevice: Sendable, Equatable {
        public var major: Int64
        public var minor: Int64
        public var weight: UInt16?
        public var leafWeight: UInt16?

        public init(major: Int64, minor: Int64, weight: UInt16? = nil) {
            self.major = major
            self.minor = minor
            self.weight = weight
        }
    }

    public struct ThrottleDevice: Sendable, Equatable {
        public var major: Int64
        public var minor: Int64
        public var rate: UInt64

        public init(major: Int64, minor: Int64, rate: UInt64) {
            self.major = major
            self.minor = minor
            self.rate = rate
        }
    }

    public struct HugepageLimit: Sendable, Equatable {
        public var pageSize: String
        public var limit: UInt64

        public init(pageSize: String, limit: UInt64) {
            self.pageSize = pageSize
            self.limit = limit
        }
    }

    public struct Network: Sendable, Equatable {
        public var classID: UInt32?
        public var priorities: [InterfacePriority]?
    }

    public struct InterfacePriority: Sendable, Equatable {
        public var name: String
        public var priority: UInt32
    }

    public struct Rdma: Sendable, Equatable {
        public var hcaHandles: UInt32?
        public var hcaObjects: UInt32?

        public init(hcaHandles: UInt32? = nil, hcaObjects: UInt32? = nil) {
            self.hcaHandles = hcaHandles
            self.hcaObjects = hcaObjects
        }
    }
}

// MARK: - Seccomp

extension Spec {
    public struct Seccomp: Sendable, Equatable {
        public var defaultAction: String
        public var defaultErrnoRet: UInt32?
        public var architectures: [String]?
        public var flags: [String]?
        public var listenerPath: String?
        public var listenerMetadata: String?
        public var syscalls: [Syscall]?

        public init(
            defaultAction: String, defaultErrnoRet: UInt32? = nil, architectures: [String]? = nil,
            flags: [String]? = nil, listenerPath: String? = nil, listenerMetadata: String? = nil,
            syscalls: [Syscall]? = nil
        ) {
            self.defaultAction = defaultAction
            self.defaultErrnoRet = defaultErrnoRet
            self.architectures = architectures
            self.flags = flags
            self.listenerPath = listenerPath
            self.listenerMetadata = listenerMetadata
            self.syscalls = syscalls
        }
    }

    public struct Syscall: Sendable, Equatable {
        public var names: [String]
        public var action: String
        public var errnoRet: UInt32?
        public var args: [SyscallArg]?

        public init(names: [String], action: String, errnoRet: UInt32? = nil, args: [SyscallArg]? = nil) {
            self.names = names
            self.action = action
            self.errnoRet = errnoRet
            self.args = args
        }
    }

    public struct SyscallArg: Sendable, Equatable {
        public var index: UInt
        public var value: UInt64
        public var valueTwo: UInt64?
        public var op: String

        public init(index: UInt, value: UInt64, valueTwo: UInt64? = nil, op: String) {
            self.index = index
            self.value = value
            self.valueTwo = valueTwo
            self.op = op
        }
    }
}
