public import FerryCore
import Foundation
public import Logging
import PostgresNIO

/// The job store on PostgreSQL: the same ``JobStore`` as the embedded SQLite store, so that
/// several Ferry nodes can share one queue on a database their operators already run.
///
/// Every method is one transaction on a connection from one pool per process. Claims take rows
/// with `FOR UPDATE SKIP LOCKED`, so nodes claiming at once never wait on each other; every other
/// move reads its job `FOR UPDATE` and then updates it compare-and-set, as on SQLite. The schema's
/// constraints and triggers (``PostgresSchema``) enforce the invariants whatever the client.
public final class PostgresJobStore: JobStore {
    public let configuration: PostgresStoreConfiguration
    let client: PostgresClient
    let logger: Logger
    /// A node's connection for its lease renewals, beside the pool; nil without a node identity.
    let leaseSession: LeaseSession?
    private let runner: Task<Void, Never>
    /// Every call's deadline, on one timer.
    private let deadlines = CallDeadlines()

    private init(configuration: PostgresStoreConfiguration, client: PostgresClient, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.logger = logger
        leaseSession = configuration.node.map { _ in LeaseSession(configuration: configuration, logger: logger) }
        runner = Task { await client.run() }
    }

    deinit { close() }

    /// Connects (lazily: the pool opens connections on first use) and checks that the database is
    /// reachable and, when migrated, a Ferry store this build can use.
    public static func open(
        _ configuration: PostgresStoreConfiguration, logger: Logger = Logger(label: "ferry.postgres")
    ) async throws(StoreError) -> PostgresJobStore {
        var clientConfiguration: PostgresClient.Configuration = configuration.endpoint { mode in
            switch mode {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        }
        clientConfiguration.options.maximumConnections = max(1, configuration.maximumConnections)
        clientConfiguration.options.additionalStartupParameters = configuration.sessionParameters
        clientConfiguration.options.connectTimeout = PostgresStoreConfiguration.sessionConnectTimeout
        // The pool arms a keep-alive timer (and, for a connection beyond the minimum, an idle
        // timer) each time a connection goes back idle, and cancels them at the next lease: tasks
        // and wake-ups on every store call, a quarter of the client's context switches one job per
        // transaction (BENCHMARKS.md). A connection the server or the network dropped is found on
        // its next use instead, as libpq's and asyncpg's are (a call on it fails `unavailable` at
        // its deadline at worst); the first two connections stay open, with no idle timer.
        clientConfiguration.options.keepAliveBehavior = nil
        clientConfiguration.options.minimumConnections = min(2, clientConfiguration.options.maximumConnections - 1)
        let store = PostgresJobStore(
            configuration: configuration, client: PostgresClient(configuration: clientConfiguration), logger: logger)
        // The pool retries a refused connection for as long as a request waits: bound the first
        // contact, so a wrong URL is an error in seconds, not a hang.
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await store.checkIdentity() }
                group.addTask {
                    try await Task.sleep(for: configuration.connectTimeout)
                    throw StoreError(
                        .unavailable,
                        "cannot reach PostgreSQL at \(configuration) within \(configuration.connectTimeout): check that the server runs and listens there"
                    )
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            store.close()
            throw StoreError.wrapping(error, store: configuration.description)
        }
        return store
    }

    /// Stops the pool and closes the lease connection; the store is unusable afterwards.
    public func close() {
        runner.cancel()
        if let leaseSession { Task { await leaseSession.close() } }
    }

    // MARK: Migrations

    /// The migrations this build knows, oldest first.
    public static var knownMigrations: [String] { PostgresMigrations.identifiers }

    /// Applies pending migrations, each in its own transaction, under an advisory lock so that
    /// nodes starting together migrate once; returns the ones applied now.
    @discardableResult
    public func migrate() async throws(StoreError) -> [String] {
        // A schema's worth of DDL is not a store call: it gets minutes, not the call deadline.
        try await write(deadline: .seconds(600)) { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(PostgresMigrations.lockKey))", logger: self.logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS ferry_migrations (identifier text PRIMARY KEY, applied_at bigint NOT NULL)",
                logger: self.logger)
            let applied = try await Self.appliedMigrations(connection, logger: self.logger)
            var now: [String] = []
            for migration in PostgresMigrations.all where !applied.contains(migration.identifier) {
                for statement in SQLScript.statements(migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                let at = Date().storeMilliseconds
                try await connection.query(
                    "INSERT INTO ferry_migrations (identifier, applied_at) VALUES (\(migration.identifier), \(at))",
                    logger: self.logger)
                now.append(migration.identifier)
            }
            return now
        }
    }

    /// The migrations already applied to this database.
    public func appliedMigrations(deadline: Duration? = nil) async throws(StoreError) -> [String] {
        try await read(deadline: deadline) { connection in
            let applied = try await Self.appliedMigrations(connection, logger: self.logger)
            return Self.knownMigrations.filter(applied.contains) + applied.filter { !Self.knownMigrations.contains($0) }
        }
    }

    static func appliedMigrations(_ connection: PostgresConnection, logger: Logger) async throws -> [String] {
        let exists = try await connection.query(
            "SELECT to_regclass('ferry_migrations') IS NOT NULL", logger: logger
        ).collect()
        guard try exists.first?.makeRandomAccess()[0].decode(Bool.self) == true else { return [] }
        return try await connection.query(
            "SELECT identifier FROM ferry_migrations ORDER BY applied_at, identifier", logger: logger
        )
        .collect().map { try $0.makeRandomAccess()[0].decode(String.self) }
    }

    /// Confirms the database is reachable and, if it holds tables, a Ferry store of this version.
    /// The first contact is bounded by `connectTimeout`, not by the call deadline: a busy server
    /// may take longer to accept a session than to answer a query on one.
    private func checkIdentity() async throws(StoreError) {
        let applied = try await appliedMigrations(deadline: configuration.connectTimeout)
        let unknown = applied.filter { !Self.knownMigrations.contains($0) }
        if !unknown.isEmpty {
            throw StoreError(
                .schemaTooNew,
                "\(configuration) was migrated by a newer Ferry (\(unknown.joined(separator: ", "))): run that version")
        }
        if applied.isEmpty {
            let tables = try await read(deadline: configuration.connectTimeout) { connection in
                try await connection.query(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'jobs'",
                    logger: self.logger
                ).collect().first?.makeRandomAccess()[0].decode(Int64.self) ?? 0
            }
            if tables > 0 {
                throw StoreError(
                    .corrupt,
                    "\(configuration) has a 'jobs' table but no Ferry migration record: point database.url at a database of Ferry's own"
                )
            }
        }
    }

    // MARK: Transactions

    /// Runs `body` in one transaction; a serialization failure or deadlock (another node's
    /// transaction crossed this one) is retried a few times before it is reported as busy.
    func write<T: Sendable>(
        jobID: JobID? = nil, deadline: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        let logger = logger
        return try await retrying(jobID: jobID, deadline: deadline) { [client] in
            try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        }
    }

    /// Runs `body` in a transaction that is always rolled back: what it would do, undone (a dry
    /// run). Retried like ``write(jobID:_:)``.
    func rehearse<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        let logger = logger
        return try await retrying(jobID: nil) { [client] in
            try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: logger)
                do {
                    let result = try await body(connection)
                    try await connection.query("ROLLBACK", logger: logger)
                    return result
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        }
    }

    /// Runs `body`, which must be ONE writing statement, as its own transaction: no `BEGIN` and
    /// `COMMIT` round trips. Retried like ``write(jobID:_:)``.
    func single<T: Sendable>(
        jobID: JobID? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        try await retrying(jobID: jobID) { [client] in
            try await client.withConnection { connection in try await body(connection) }
        }
    }

    /// Runs `operation`, again after a short pause when another transaction crossed it (up to five times).
    private func retrying<T: Sendable>(
        jobID: JobID?, deadline: Duration? = nil, _ operation: @escaping @Sendable () async throws -> T
    ) async throws(StoreError) -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await withDeadline(deadline ?? configuration.callTimeout, operation)
            } catch {
                let wrapped = StoreError.wrapping(error, store: configuration.description, jobID: jobID)
                if wrapped.code == .busy, attempt < 5 {
                    try? await Task.sleep(for: .milliseconds(5 * attempt))
                    continue
                }
                throw wrapped
            }
        }
    }

    /// Runs `body` outside a transaction block (each statement is its own snapshot).
    func read<T: Sendable>(
        jobID: JobID? = nil, deadline: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        do {
            return try await withDeadline(deadline ?? configuration.callTimeout) { [client] in
                try await client.withConnection { connection in try await body(connection) }
            }
        } catch {
            throw StoreError.wrapping(error, store: configuration.description, jobID: jobID)
        }
    }

    /// Runs `operation`; fails it as unavailable when it has not finished within `limit`. The
    /// caller is answered at the deadline even when the operation does not heed cancellation (a
    /// request waiting in the pool for a connection to a server that is down does not): it is
    /// cancelled and left to end on its own.
    private func withDeadline<T: Sendable>(
        _ limit: Duration, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await deadlines.run(within: limit, operation) { [configuration] in
            StoreError.noAnswer(from: configuration.description, within: limit)
        }
    }

    /// The current time in store units.
    var nowMilliseconds: Int64 { configuration.now().storeMilliseconds }
}

extension StoreError {
    /// A call to the server that did not answer within its deadline.
    static func noAnswer(from store: String, within limit: Duration) -> StoreError {
        StoreError(
            .unavailable,
            "cannot reach PostgreSQL at \(store): no answer within \(limit); check that the server runs and listens there"
        )
    }
}

extension Date {
    /// Whole milliseconds since the Unix epoch, as both stores keep times.
    var storeMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    init(storeMilliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(storeMilliseconds) / 1000)
    }
}
