public import FerryCore
public import FerryStore

/// The store `ferry serve` runs on, and what only one kind of store offers: the SQLite file has
/// backups; a PostgreSQL store is a queue shared with other nodes. Both run cleanup.
public struct ServeStore: Sendable {
    public let jobs: any JobStore
    /// The same store, as the cleanup coordinator and the health view use it.
    public let cleanup: any CleanupStore
    /// Where a cleanup worker reads the records.
    public let cleanupDatabase: CleanupDatabase
    /// The SQLite file (nil on PostgreSQL).
    public let sqlite: SQLiteJobStore?
    /// The queue this node shares with others (nil on SQLite).
    public let shared: (any SharedQueue)?
    /// Where it is, for logs and health: a file path or the URL without its password.
    public let location: String
    /// What the cleanup worker's environment needs to read the store: a password written into
    /// `database.url` reaches it here, never through its order or its command line.
    public let cleanupEnvironment: [String: String]
    private let closing: @Sendable () -> Void

    init(sqlite: SQLiteJobStore, path: String) {
        jobs = sqlite
        cleanup = sqlite
        cleanupDatabase = .sqlite(path: sqlite.configuration.path)
        self.sqlite = sqlite
        shared = nil
        location = path
        cleanupEnvironment = [:]
        closing = {}
    }

    init(
        shared: any SharedQueue & CleanupStore, cleanupDatabase: CleanupDatabase, location: String,
        cleanupEnvironment: [String: String] = [:], close: @escaping @Sendable () -> Void
    ) {
        self.cleanupEnvironment = cleanupEnvironment
        jobs = shared
        cleanup = shared
        self.cleanupDatabase = cleanupDatabase
        sqlite = nil
        self.shared = shared
        self.location = location
        closing = close
    }

    /// Stops the connection pool of a PostgreSQL store (a SQLite store closes with the process).
    public func close() { closing() }
}
