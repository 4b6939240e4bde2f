// SPDX-License-Identifier: Apache-2.0
import Glibc
import SkiffCheck
import SkiffSpec
import SkiffSystem

/// `skiff check`: proves a bundle's isolation from inside the running task, under skiff or
/// any runc-compatible runtime. Exit 0: everything holds; 1: a property failed; 2: the
/// check itself could not run.
let checkCommand = Command(
    name: "check", summary: "run a bundle with a probe in place of its process and check its isolation (exit 0 holds, 1 fails, 2 error)",
    usage: "[bundle]", positionals: 0...1,
    options: [
        .value("runtime", "PATH", "a runc-compatible runtime to check instead of this skiff"),
        .value("policy", "FILE", "expectations beyond the config (JSON or YAML)"),
        .value("format", "FORMAT", "table or json (default table)"),
        .value("only", "GROUP", "check only this group (repeatable): \(CheckGroup.allCases.map(\.rawValue).joined(separator: ", "))"),
    ],
    failureStatus: 2
) { args, context in
    var request = CheckRequest(bundle: args.positionals.first ?? args["bundle"] ?? ".")
    request.runtime = args["runtime"]
    request.skiffRoot = context.runtime.store.root
    let format = args["format"] ?? "table"
    guard format == "table" || format == "json" else { throw UsageError(description: "--format: table or json, not \"\(format)\"") }
    for group in args.all("only").flatMap({ $0.split(separator: ",") }) {
        guard let known = CheckGroup(rawValue: String(group)) else {
            throw UsageError(description: "--only: unknown group \"\(group)\" (\(CheckGroup.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        request.groups.insert(known)
    }
    if let file = args["policy"] {
        let bytes: [UInt8]
        do throws(SystemError) { bytes = try readFile(file) } catch { throw UsageError(description: "--policy \(file): \(error.reason)") }
        request.policy = try CheckPolicy(text: String(decoding: bytes, as: UTF8.self), file: file)
    }
    let results = try Checker.run(request)
    print(format == "json" ? checkJSON(results, runtime: request.runtime) : checkTable(results))
    return results.contains { $0.status == .fail } ? 1 : 0
}

func checkTable(_ results: [CheckResult]) -> String {
    let header = ["GROUP", "PROPERTY", "EXPECTED", "OBSERVED", "RESULT"]
    let rows = results.map { [$0.group.rawValue, $0.property, $0.expected, $0.observed, $0.status.rawValue + ($0.why.isEmpty ? "" : " (\($0.why))")] }
    let widths = header.indices.map { column in min(48, ([header] + rows).map { $0[column].count }.max() ?? 0) }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            i == cells.count - 1 ? cell : cell + String(repeating: " ", count: max(1, widths[i] - cell.count + 2))
        }.joined()
    }
    let counts = Dictionary(grouping: results, by: \.status).mapValues(\.count)
    let summary = "\(counts[.pass] ?? 0) passed, \(counts[.fail] ?? 0) failed, \(counts[.skip] ?? 0) skipped"
    return ([line(header)] + rows.map(line) + ["", summary]).joined(separator: "\n")
}

func checkJSON(_ results: [CheckResult], runtime: String?) -> String {
    let items: [JSONValue] = results.map {
        .object([
            ("group", .string($0.group.rawValue)), ("property", .string($0.property)), ("expected", .string($0.expected)),
            ("observed", .string($0.observed)), ("result", .string($0.status.rawValue)), ("why", .string($0.why)),
        ])
    }
    let counts = Dictionary(grouping: results, by: \.status).mapValues(\.count)
    return JSONValue.object([
        ("runtime", .string(runtime ?? "skiff")),
        ("results", .array(items)),
        (
            "summary",
            .object([
                ("passed", .number(String(counts[.pass] ?? 0))), ("failed", .number(String(counts[.fail] ?? 0))),
                ("skipped", .number(String(counts[.skip] ?? 0))),
            ])
        ),
    ]).serialized(pretty: true)
}
