// SPDX-License-Identifier: Apache-2.0
/// The command line, parsed the way runc's users call it: global options before (or after)
/// the command name, `--name value` and `--name=value`, short `-b value`, and positionals
/// anywhere until `--`.
///
/// skiff parses its own arguments instead of using swift-argument-parser: a runtime is
/// started for every container operation, and that library's reflection costs about a
/// millisecond of start-up each time (measured with callgrind: most of it is dynamic
/// protocol-conformance lookup).
struct OptionSpec: Sendable {
    var long: String
    var short: Character?
    var value: String?
    /// Made only for `--help`: some help texts are built (a list of names), and every run
    /// of skiff defines every command's options.
    var help: @Sendable () -> String

    /// An option that takes a value, shown as `--long VALUE`.
    static func value(
        _ long: String, short: Character? = nil, _ valueName: String, _ help: @autoclosure @escaping @Sendable () -> String
    ) -> OptionSpec {
        OptionSpec(long: long, short: short, value: valueName, help: help)
    }

    static func flag(_ long: String, short: Character? = nil, _ help: @autoclosure @escaping @Sendable () -> String) -> OptionSpec {
        OptionSpec(long: long, short: short, value: nil, help: help)
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
}

/// What one invocation said: the options given, in order, and the positionals.
///
/// A list rather than dictionaries and a set: skiff runs once per container operation (a
/// shim's every `state`), and the first dictionary of a process costs the Swift runtime
/// more than the rest of parsing (its storage's metadata and the key's `Hashable`
/// conformance are looked up by name on first use).
struct Arguments: Sendable {
    struct Given: Sendable {
        var long: String
        /// nil for a flag.
        var value: String?
    }
    var given: [Given] = []
    var positionals: [String] = []

    /// The option's value; the last one given wins.
    subscript(_ long: String) -> String? { given.last { $0.long == long && $0.value != nil }?.value }
    /// Every value of an option given more than once (`--env A=1 --env B=2`), in order.
    func all(_ long: String) -> [String] { given.compactMap { $0.long == long ? $0.value : nil } }
    func has(_ flag: String) -> Bool { given.contains { $0.long == flag && $0.value == nil } }

    func integer(_ long: String, default fallback: Int) throws(UsageError) -> Int {
        guard let text = self[long] else { return fallback }
        guard let number = Int(text), number >= 0 else { throw UsageError(description: "--\(long): expected a non-negative integer, got \"\(text)\"") }
        return number
    }

    /// Parse `arguments` against `options`; unknown options are errors. After
    /// `optionsEndAfter` positionals, everything is a positional (`exec ID sh -c …`).
    static func parse(_ arguments: ArraySlice<String>, options: [OptionSpec], optionsEndAfter: Int? = nil) throws(UsageError) -> Arguments {
        var result = Arguments()
        var rest = arguments
        while let argument = rest.popFirst() {
            if let end = optionsEndAfter, result.positionals.count >= end {
                result.positionals.append(argument)
                result.positionals.append(contentsOf: rest)
                break
            }
            if argument == "--" {
                result.positionals.append(contentsOf: rest)
                break
            }
            guard argument.hasPrefix("-"), argument.count > 1 else {
                result.positionals.append(argument)
                continue
            }
            let (spec, inline) = try find(argument, in: options)
            if spec.value == nil {
                if inline != nil { throw UsageError(description: "--\(spec.long) takes no value") }
                result.given.append(Given(long: spec.long, value: nil))
            } else if let value = inline ?? rest.popFirst() {
                result.given.append(Given(long: spec.long, value: value))
            } else {
                throw UsageError(description: "--\(spec.long) needs a value")
            }
        }
        return result
    }

    private static func find(_ argument: String, in options: [OptionSpec]) throws(UsageError) -> (OptionSpec, String?) {
        if argument.hasPrefix("--") {
            let body = argument.dropFirst(2)
            let parts = body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard let spec = options.first(where: { $0.long == name }) else { throw UsageError(description: "unknown option --\(name)") }
            return (spec, parts.count > 1 ? String(parts[1]) : nil)
        }
        // A long name after one dash, as Go's flag packages take it: go-runc passes
        // `-no-subreaper` to restore (containerd's runc shim).
        let single = argument.dropFirst().split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        if single[0].count > 1, let spec = options.first(where: { $0.long == single[0] }) {
            return (spec, single.count > 1 ? String(single[1]) : nil)
        }
        let letter = argument.dropFirst().first!
        guard let spec = options.first(where: { $0.short == letter }) else { throw UsageError(description: "unknown option -\(letter)") }
        let attached = argument.dropFirst(2)
        if attached.isEmpty { return (spec, nil) }
        return (spec, String(attached.hasPrefix("=") ? attached.dropFirst() : attached))
    }
}

extension OptionSpec {
    var synopsis: String {
        let names = (short.map { "-\($0), " } ?? "    ") + "--\(long)" + (value.map { " \($0)" } ?? "")
        return names
    }

    static func helpText(_ options: [OptionSpec]) -> String {
        let width = (options.map(\.synopsis.count).max() ?? 0) + 3
        return options.map { "  " + $0.synopsis + String(repeating: " ", count: width - $0.synopsis.count) + $0.help() }
            .joined(separator: "\n")
    }
}
