public import FerryCore
public import FerryStore

/// The store `ferry serve` runs on, and what only one kind of store offers: the SQLite file has
/// backups and cleanup runs; a PostgreSQL store is a queue shared with other nodes.
public struct ServeStore: Sendable {
    public let jobs: any JobStore
    /// The SQLite file (nil on PostgreSQL).
    public let sqlite: SQLiteJobStore?
    /// The queue this node shares with others (nil on SQLite).
    public let shared: (any SharedQueue)?
    /// Where it is, for logs and health: a file path or the URL without its password.
    public let location: String
    private let closing: @Sendable () -> Void

    init(sqlite: SQLiteJobStore, path: String) {
        jobs = sqlite
        self.sqlite = sqlite
        shared = nil
        location = path
        closing = {}
    }

    init(shared: any SharedQueue, location: String, close: @escaping @Sendable () -> Void) {
        jobs = shared
        sqlite = nil
        self.shared = shared
        self.location = location
        closing = close
    }

    /// Stops the connection pool of a PostgreSQL store (a SQLite store closes with the process).
    public func close() { closing() }
}
