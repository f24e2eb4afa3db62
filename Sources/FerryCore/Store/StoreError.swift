/// Everything that can go wrong in a ``JobStore``: an opaque code that is safe as a metric label
/// and stable for API clients, a message that tells a person what to do, and context.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier of the kind of failure.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No job (or worker) with that id.
        public static let notFound = Code(rawValue: "not_found")
        /// The job's lifecycle does not allow the command in its current state.
        public static let illegalTransition = Code(rawValue: "illegal_transition")
        /// The reporting worker no longer holds the job (it was requeued, cancelled or finished).
        public static let leaseLost = Code(rawValue: "lease_lost")
        /// The request clashes with existing data (an idempotency key or natural key in use).
        public static let conflict = Code(rawValue: "conflict")
        /// A value the schema refuses (the database enforced an invariant).
        public static let invalidInput = Code(rawValue: "invalid_input")
        /// The database file cannot be opened or written (permissions, read-only folder, full disk).
        public static let unavailable = Code(rawValue: "database_unavailable")
        /// The file is not a Ferry database, or is damaged.
        public static let corrupt = Code(rawValue: "database_corrupt")
        /// The database was migrated by a newer Ferry than this one.
        public static let schemaTooNew = Code(rawValue: "schema_too_new")
        /// Another process held the database lock longer than the busy timeout.
        public static let busy = Code(rawValue: "database_busy")
        /// This node's lease on a shared queue ran out: it must stop, since others take its work over.
        public static let nodeFenced = Code(rawValue: "node_fenced")
    }

    public var code: Code
    /// What went wrong and what to do, for a person.
    public var message: String
    public var jobID: JobID?
    /// The underlying error's text, for logs; never shown to API clients.
    public var underlying: String?

    public init(_ code: Code, _ message: String, jobID: JobID? = nil, underlying: String? = nil) {
        self.code = code
        self.message = message
        self.jobID = jobID
        self.underlying = underlying
    }

    public var description: String {
        var text = "\(message) [\(code)]"
        if let underlying { text += " (\(underlying))" }
        return text
    }
}
