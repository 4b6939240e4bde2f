// SPDX-License-Identifier: Apache-2.0
import Foundation
import SkiffSpec
import Testing

@Suite("config.json model and validation")
struct SpecTests {
    func decode(_ json: String) throws(SpecError) -> Spec {
        try SpecLoader.decode(Array(json.utf8))
    }

    func expectError(_ json: String, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try decode(json)
            Issue.record("expected \(message)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description == message, sourceLocation: sourceLocation)
        }
    }

    static let minimal =
        #"{"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["sh"]}, "linux": {"namespaces": [{"type": "mount"}]}}"#

    @Test func theDefaultSpecRoundTrips() throws {
        let spec = Spec.defaultSpec()
        let decoded = try SpecLoader.decode(SpecLoader.encode(spec))
        #expect(decoded == spec)
    }

    /// Every field of runtime-spec 1.2 for Linux decodes (a config as podman or containerd
    /// writes it), and fields skiff does not know are tolerated.
    @Test func everyFieldDecodesAndUnknownFieldsAreTolerated() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("full-config.json")
        let bytes = try [UInt8](Data(contentsOf: url))
        // The full config has a seccomp section and a user namespace, which the runtime
        // does not run yet; decoding alone must still see every field.
        let spec = try Spec(jsonValue: JSONValue.parse(bytes))
        // And it writes back to the same document model.
        #expect(try Spec(jsonValue: JSONValue.parse(Array(spec.jsonValue.serialized().utf8))) == spec)
        #expect(spec.process?.consoleSize?.width == 80)
        #expect(spec.process?.capabilities?.ambient == ["CAP_NET_BIND_SERVICE"])
        #expect(spec.process?.rlimits?.first?.type == "RLIMIT_NOFILE")
        #expect(spec.process?.scheduler?.policy == "SCHED_OTHER")
        #expect(spec.process?.ioPriority?.class == "IOPRIO_CLASS_RT")
        #expect(spec.process?.execCPUAffinity?.initial == "0")
        #expect(spec.hooks?.createRuntime?.first?.path == "/bin/hook")
        #expect(spec.mounts?.last?.uidMappings?.first?.size == 65536)
        #expect(spec.linux?.uidMappings?.first?.hostID == 100000)
        #expect(spec.linux?.resources?.memory?.swap == 268435456)
        #expect(spec.linux?.resources?.cpu?.burst == 10000)
        #expect(spec.linux?.resources?.blockIO?.throttleReadBpsDevice?.first?.rate == 1048576)
        #expect(spec.linux?.resources?.hugepageLimits?.first?.pageSize == "2MB")
        #expect(spec.linux?.resources?.unified?["memory.high"] == "1G")
        #expect(spec.linux?.resources?.rdma?["mlx5_1"]?.hcaHandles == 3)
        #expect(spec.linux?.resources?.network?.priorities?.first?.name == "eth0")
        #expect(spec.linux?.seccomp?.syscalls?.first?.args?.first?.op == "SCMP_CMP_EQ")
        #expect(spec.linux?.seccomp?.listenerPath == "/run/listener.sock")
        #expect(spec.linux?.timeOffsets?["monotonic"]?.secs == 100)
        #expect(spec.linux?.personality?.domain == "LINUX32")
        #expect(spec.linux?.intelRdt?.closID == "guaranteed")
        #expect(spec.linux?.netDevices?["eth1"]?.name == "net1")
        #expect(spec.linux?.devices?.first?.fileMode == 438)
        #expect(spec.annotations?["org.example.key"] == "value")
    }

    @Test func syntaxErrorsNameLineAndColumn() {
        expectError("{\n  \"ociVersion\": \"1.2.0\"\n  \"root\": {}\n}", "config.json: line 3, column 3: expected ',' or '}', found '\"'")
        expectError("{\"ociVersion\": \"1.2.0\",\n  3: 4}", "config.json: line 2, column 3: expected a key in double quotes, found '3'")
        expectError("{\"ociVersion\": tru}", "config.json: line 1, column 16: expected a value (true, false or null)")
        expectError("", "config.json: line 1, column 1: unexpected end of file, expected a value")
        expectError("{\"a\": \"unterminated}", "config.json: line 1, column 7: unterminated string")
        expectError("{\"ociVersion\": \"1.2.0\",}", "config.json: line 1, column 24: expected a key in double quotes, found '}'")
        expectError("[1, 2]", "config.json: expected an object, found an array")
    }

    @Test func typeErrorsNameTheJSONPath() {
        expectError(Self.minimal.replacingOccurrences(of: #""args": ["sh"]"#, with: #""args": "sh""#), "process.args: expected an array, found a string")
        expectError(Self.minimal.replacingOccurrences(of: #""uid": 0"#, with: #""uid": "root""#), "process.user.uid: expected an integer, found a string")
        expectError(Self.minimal.replacingOccurrences(of: #""cwd": "/", "#, with: ""), "process.cwd: missing")
        expectError(#"{"root": {"path": "rootfs"}}"#, "ociVersion: missing")
        expectError(Self.minimal.replacingOccurrences(of: #""uid": 0"#, with: #""uid": -1"#), "process.user.uid: -1 is out of range")
        expectError(Self.minimal.replacingOccurrences(of: #""gid": 0"#, with: #""gid": 4294967296"#), "process.user.gid: 4294967296 is out of range")
        expectError(
            Self.minimal.replacingOccurrences(of: #"[{"type": "mount"}]"#, with: #"[{"type": "mount"}, {"type": 3}]"#),
            "linux.namespaces[1].type: expected a string, found a number")
    }

    @Test func validationNamesTheField() {
        func with(_ from: String, _ to: String) -> String { Self.minimal.replacingOccurrences(of: from, with: to) }
        expectError(with(#""args": ["sh"]"#, #""args": []"#), "process.args: must not be empty")
        expectError(with(#""cwd": "/""#, #""cwd": "tmp""#), #"process.cwd: must be an absolute path, got "tmp""#)
        expectError(
            with(#"[{"type": "mount"}]"#, #"[{"type": "mount"}, {"type": "pid"}, {"type": "netz"}]"#),
            #"linux.namespaces[2].type: unknown namespace "netz""#)
        expectError(
            with(#"[{"type": "mount"}]"#, #"[{"type": "mount"}, {"type": "mount"}]"#),
            #"linux.namespaces[1].type: duplicate namespace "mount""#)
        expectError(with(#""1.2.0""#, #""2.0.0""#), #"ociVersion: unsupported version "2.0.0" (skiff supports 1.x)"#)
        expectError(with(#""1.2.0""#, #""banana""#), #"ociVersion: "banana" is not a version (expected e.g. "1.3.0")"#)
        expectError(with(#""root": {"path": "rootfs"}, "#, ""), "root: missing")
        expectError(with(#""args": ["sh"]"#, #""args": ["sh"], "env": ["NOEQUALS"]"#), #"process.env[0]: expected KEY=value, got "NOEQUALS""#)
        expectError(
            with(#""args": ["sh"]"#, #""args": ["sh"], "capabilities": {"effective": ["CAP_BOGUS"]}"#),
            #"process.capabilities.effective[0]: unknown capability "CAP_BOGUS""#)
        expectError(
            with(#""args": ["sh"]"#, #""args": ["sh"], "rlimits": [{"type": "RLIMIT_FOO", "hard": 1, "soft": 1}]"#),
            #"process.rlimits[0].type: unknown rlimit "RLIMIT_FOO""#)
        expectError(
            with(#""args": ["sh"]"#, #""args": ["sh"], "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 2}]"#),
            "process.rlimits[0]: soft limit 2 is above hard limit 1")
        expectError(with(#""linux": {"#, #""hostname": "h", "linux": {"#), "hostname: needs a new uts namespace (linux.namespaces)")
        expectError(
            with(#""linux": {"#, #""mounts": [{"destination": "rel", "type": "tmpfs"}], "linux": {"#),
            #"mounts[0].destination: must be an absolute path, got "rel""#)
        expectError(
            with(#""linux": {"#, #""mounts": [{"destination": "/x", "type": "bind"}], "linux": {"#),
            "mounts[0].source: missing for a bind mount")
        expectError(
            with(#""linux": {"#, #""linux": {"devices": [{"type": "x", "path": "/dev/x"}], "#),
            #"linux.devices[0].type: unknown device type "x" (expected c, b, u or p)"#)
        expectError(with(#""linux": {"#, #""linux": {"sysctl": {"net/ipv4": "1"}, "#), "linux.sysctl.net/ipv4: invalid sysctl name")
        expectError(with(#""linux": {"#, #""linux": {"rootfsPropagation": "sideways", "#), #"linux.rootfsPropagation: unknown propagation "sideways""#)
        expectError(
            with(#""linux": {"#, #""linux": {"resources": {"cpu": {"quota": -5}}, "#),
            "linux.resources.cpu.quota: must be positive (or -1 for no limit), got -5")
    }

    /// CPU and node lists: numbers and ranges up to a bound (1023 for an affinity mask, 8191
    /// for cpuset: "0-2000000000" is refused, not enumerated), white space only around them.
    @Test func cpuListsParseAsTheKernelWritesThem() {
        #expect(CPUList.parse("0-3,7") == [0, 1, 2, 3, 7])
        #expect(CPUList.parse("5") == [5])
        #expect(CPUList.parse("1,1,0-1") == [0, 1])
        #expect(CPUList.parse("1023") == [1023])
        #expect(CPUList.parse("0-1\n") == [0, 1])
        #expect(CPUList.parse("8191", maximum: CPUList.maximumKernelCPU) == [8191])
        #expect(CPUList.parse("0-2000000000", maximum: CPUList.maximumKernelCPU) == nil)
        for bad in ["", "1024", "3-1", "0,,1", "0-", "-1", "a", "0-1-2", "\u{0663}", "1, 2", "99999999999999999999"] {
            #expect(CPUList.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func stringsUnescapeAndNumbersKeepTheirText() throws {
        let value = try JSONValue.parse(Array(#"{"s": "a\"b\\c\u00e9\ud83d\ude00\n", "n": -12.5e3}"#.utf8))
        #expect(value == .object([("s", .string("a\"b\\c\u{e9}\u{1F600}\n")), ("n", .number("-12.5e3"))]))
        // Written back, it parses to the same value.
        #expect(try JSONValue.parse(Array(value.serialized().utf8)) == value)
        #expect(try JSONValue.parse(Array(value.serialized(pretty: true).utf8)) == value)
    }

    @Test func signalsParseByNameOrNumber() {
        #expect(LinuxNames.signal("TERM") == 15)
        #expect(LinuxNames.signal("SIGKILL") == 9)
        #expect(LinuxNames.signal("9") == 9)
        #expect(LinuxNames.signal("sigusr1") == 10)
        #expect(LinuxNames.signal("RTMIN+2") == 36)
        #expect(LinuxNames.signal("NOPE") == nil)
        #expect(LinuxNames.signal("0") == nil)
    }
}
