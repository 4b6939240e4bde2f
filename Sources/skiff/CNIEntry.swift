// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffCNI
import SkiffSystem

/// The `skiff` binary is also skiff's CNI plugin: a CNI runtime calls it (as
/// /opt/cni/bin/skiff) with `CNI_COMMAND` in its environment and the network configuration on
/// stdin. No runc-compatible caller sets that variable.
enum CNIEntry {
    static var isPluginCall: Bool { getenv("CNI_COMMAND") != nil }

    static func run() -> Int32 {
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "="), text.hasPrefix("CNI_") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        var input: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(STDIN_FILENO, &chunk, chunk.count)
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            input += chunk[..<n]
            // A configuration is small; anything past 1 MiB is not one.
            if input.count > 1 << 20 { break }
        }
        let (output, status) = CNIPlugin.run(environment: environment, stdin: input)
        try? FileDescriptor(adopting: dup(STDOUT_FILENO)).write(output, step: "writing the result")
        return status
    }
}
