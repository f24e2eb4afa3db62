public import FerryCore
import Foundation
internal import GRDB
import Synchronization

/// The embedded job store: one SQLite file in WAL mode, written through a single connection.
///
/// - Important: Every write transaction starts `IMMEDIATE` and goes through the pool's one writer
///   connection. A deferred transaction that upgrades to a write lock meets `SQLITE_BUSY` that the
///   busy handler cannot retry ("database is locked"), the classic failure of SQLite queues.
public final class SQLiteJobStore: JobStore {
    public let configuration: StoreConfiguration
    let pool: DatabasePool
    /// The wall clock's steps already applied to due times. A mutex, not an actor: it is read
    /// on every claim, synchronously, beside the clock reading it is compared with.
    let wallClockSteps = Mutex(WallClockSteps())

    private init(configuration: StoreConfiguration, pool: DatabasePool) {
        self.configuration = configuration
        self.pool = pool
    }

    /// Opens (creating when absent and writable) the database at `configuration.path`.
    ///
    /// Opening does not migrate: call ``migrate()``. It refuses a file that is not SQLite, a
    /// SQLite file that is not a Ferry store, and a store migrated by a newer Ferry.
    public static func open(_ configuration: StoreConfiguration) throws(StoreError) -> SQLiteJobStore {
        var config = Configuration()
        config.label = "ferry-store"
        config.readonly = configuration.readOnly
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(configuration.busyTimeout.inSeconds)
        let synchronous = configuration.synchronous.rawValue.uppercased()
        let readOnly = configuration.readOnly
        config.prepareDatabase { db in
            if !readOnly { try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: configuration.path, configuration: config)
            // GRDB sets `synchronous = NORMAL` on the writer when it turns WAL on, after
            // prepareDatabase ran: set it again, or a commit is not on disk when it returns.
            if !readOnly {
                try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = \(synchronous)") }
            }
        } catch {
            throw StoreError.wrapping(error, path: configuration.path)
        }
        let store = SQLiteJobStore(configuration: configuration, pool: pool)
        try store.checkIdentity()
        return store
    }

    /// The migrations this build knows, oldest first.
    public static var knownMigrations: [String] { StoreMigrator.identifiers }

    /// Applies pending migrations in one transaction each; returns the ones applied now.
    @discardableResult
    public func migrate() throws(StoreError) -> [String] {
        do {
            let before = try pool.read { try StoreMigrator.migrator().appliedIdentifiers($0) }
            try StoreMigrator.migrator().migrate(pool)
            return Self.knownMigrations.filter { !before.contains($0) }
        } catch {
            throw StoreError.wrapping(error, path: configuration.path)
        }
    }

    /// Applies the migrations up to and including `identifier` only (tests build old schemas).
    public func migrate(upTo identifier: String) throws(StoreError) {
        do {
            try StoreMigrator.migrator(upTo: identifier).migrate(pool)
        } catch {
            throw StoreError.wrapping(error, path: configuration.path)
        }
    }

    /// The migrations already applied to this database.
    public func appliedMigrations() throws(StoreError) -> [String] {
        do {
            return try pool.read { db in
                let applied = try StoreMigrator.migrator().appliedIdentifiers(db)
                return Self.knownMigrations.filter(applied.contains)
            }
        } catch {
            throw StoreError.wrapping(error, path: configuration.path)
        }
    }

    /// Runs SQLite's own consistency checks; returns the problems found (empty when healthy).
    public func checkIntegrity() async throws(StoreError) -> [String] {
        try await read { db in
            var problems = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
            for row in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") {
                problems.append("foreign key violation in \(row[0] as String) row \(row[1] as Int64? ?? -1)")
            }
            return problems
        }
    }

    /// Confirms the file is a Ferry store this build can use.
    private func checkIdentity() throws(StoreError) {
        do {
            try pool.read { db in
                let tables = try String.fetchSet(
                    db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                if !tables.isEmpty, !tables.contains("grdb_migrations") {
                    throw StoreError(
                        .corrupt,
                        "\(configuration.path) is an SQLite database but not a Ferry store (it has no migration record): point the configuration at another file"
                    )
                }
                guard tables.contains("grdb_migrations") else { return }
                let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
                let unknown = applied.filter { !Self.knownMigrations.contains($0) }
                if !unknown.isEmpty {
                    throw StoreError(
                        .schemaTooNew,
                        "\(configuration.path) was migrated by a newer Ferry (\(unknown.joined(separator: ", "))): run that version, or restore a backup made for this one"
                    )
                }
            }
        } catch {
            throw StoreError.wrapping(error, path: configuration.path)
        }
    }

    // MARK: Transactions

    /// Runs `body` in one IMMEDIATE write transaction.
    func write<T: Sendable>(
        jobID: JobID? = nil,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(StoreError) -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw StoreError.wrapping(error, path: configuration.path, jobID: jobID)
        }
    }

    /// Runs `body` on a reader connection, concurrently with writes (WAL).
    func read<T: Sendable>(
        jobID: JobID? = nil,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(StoreError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw StoreError.wrapping(error, path: configuration.path, jobID: jobID)
        }
    }

    /// The current time in store units.
    var nowMilliseconds: Int64 { configuration.now().storeMilliseconds }
}
