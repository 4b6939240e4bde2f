// SPDX-License-Identifier: Apache-2.0
extension StringProtocol {
    /// Without leading and trailing white space (spaces, tabs, new lines).
    public var trimmingWhitespace: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        return String(text)
    }

    /// With its first character lowercased, as an errno text reads inside a sentence.
    public var lowercasedFirst: String { prefix(1).lowercased() + dropFirst() }
}
