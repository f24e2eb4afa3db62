/// A configuration that cannot be used, with every problem found in it (not just the first).
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One problem: where it is, which key, the value found and what was expected.
    public struct Issue: Sendable, Equatable, CustomStringConvertible {
        /// The file (or `environment` for an override); nil for whole-configuration checks.
        public var source: String
        /// Line and column in the file, when known.
        public var line: Int?
        public var column: Int?
        public var key: String
        public var value: String?
        public var problem: String

        public init(source: String, line: Int? = nil, column: Int? = nil, key: String, value: String?, problem: String)
        {
            self.source = source
            self.line = line
            self.column = column
            self.key = key
            self.value = value
            self.problem = problem
        }

        public var description: String {
            var location = source
            if let line { location += ":\(line)" }
            if let column { location += ":\(column)" }
            let shown = value.map { " = \"\($0)\"" } ?? ""
            return "\(location): \(key)\(shown): \(problem)"
        }
    }

    public var issues: [Issue]

    public init(issues: [Issue]) { self.issues = issues }

    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}
