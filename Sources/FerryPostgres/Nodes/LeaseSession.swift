import FerryCore
import Logging
import NIOCore
import PostgresNIO

/// The node's own PostgreSQL connection for renewing its lease, beside the pool: a renewal never
/// waits for a pool connection that batch enqueues, a cleanup scan or a take-over hold, so a busy
/// node does not fence itself while the database is fine (issue 18).
///
/// Opened on the first renewal, with the pool's settings, as `application_name` "ferry lease
/// <node id>". Only renewals use it, one at a time (the node's lease sends the next once the last
/// answered or was given up), so closing it never cuts another statement short. A renewal that
/// fails, times out or is cancelled closes it: a statement a dead connection never answers cannot
/// hold up the next renewal, which opens a fresh connection.
actor LeaseSession {
    private let configuration: PostgresStoreConfiguration
    private let logger: Logger
    private var connection: PostgresConnection?
    /// Bumped whenever the connection is given up: an opening still under way for an earlier
    /// renewal (which no longer waits for it) closes what it opens.
    private var generation = 0
    private var closed = false
    /// Whether a loss was logged since a renewal last got through: an outage logs once.
    private var lossLogged = false
    private var opened = 0
    private let deadlines = CallDeadlines()

    init(configuration: PostgresStoreConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs `statement` on the connection, opening it first when there is none. The caller is
    /// answered by `limit`, or at once when it is cancelled; the connection is then given up.
    /// A connection that served earlier renewals and fails is replaced once within the call (the
    /// server may have ended an idle session): the statement must be safe to run twice.
    func run<T: Sendable>(
        within limit: Duration, _ statement: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        do {
            let store = configuration.description
            let result = try await deadlines.run(within: limit, heedingCancellation: true) {
                try await self.attempt(statement)
            } timeout: {
                StoreError.noAnswer(from: store, within: limit)
            }
            lossLogged = false
            return result
        } catch {
            // Given up here, before the caller can send the next renewal on the same connection.
            lost(error)
            throw error
        }
    }

    /// One renewal: on the open connection, and once more on a fresh one if that fails.
    private func attempt<T: Sendable>(
        _ statement: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let reused = connection.map { !$0.isClosed } ?? false
        let first = try await open()
        do {
            return try await statement(first)
        } catch let error where reused && !Task.isCancelled {
            lost(error)
            return try await statement(try await open())
        }
    }

    /// The open connection, or a new one.
    private func open() async throws -> PostgresConnection {
        if let connection {
            if !connection.isClosed { return connection }
            giveUp(because: "the server or the network closed it")
        }
        let generation = generation
        opened += 1
        let fresh = try await PostgresConnection.connect(
            configuration: try connectionConfiguration(), id: opened, logger: logger)
        guard !closed, generation == self.generation, connection == nil else {
            Self.shut(fresh)
            throw CancellationError()
        }
        connection = fresh
        return fresh
    }

    /// Gives the connection up after `error`. The error is told as the store tells it (a store
    /// error, which names the server without the password).
    private func lost(_ error: any Error) {
        giveUp(
            because: error is CancellationError
                ? "the renewal was given up" : "\(StoreError.wrapping(error, store: configuration.description))")
    }

    /// Gives the connection up (closing it fails whatever still waits on it) and logs why, once
    /// until a renewal gets through again.
    private func giveUp(because why: String) {
        generation += 1
        connection.map(Self.shut)
        connection = nil
        guard !closed, !lossLogged else { return }
        lossLogged = true
        logger.warning(
            "lost the PostgreSQL connection that renews this node's lease; a new one is opened for the next renewal",
            metadata: ["error": "\(why)"])
    }

    /// Closes the connection for good (the store closes).
    func close() {
        closed = true
        generation += 1
        connection.map(Self.shut)
        connection = nil
    }

    /// Closes `connection` without waiting: what waits on it fails at once. The connection is
    /// kept until it is closed (PostgresNIO requires that of a connection it deinitialises).
    private static func shut(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// The pool's settings (`PostgresJobStore.open`), for one connection of its own.
    private func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var result: PostgresConnection.Configuration = try configuration.endpoint { mode in
            switch mode {
            case .disable: .disable
            case .prefer: .prefer(try .init(configuration: .makeClientConfiguration()))
            case .require: .require(try .init(configuration: .makeClientConfiguration()))
            }
        }
        result.options.connectTimeout = TimeAmount(PostgresStoreConfiguration.sessionConnectTimeout)
        let name = configuration.node.map { "ferry lease \($0.id)" } ?? "ferry lease"
        result.options.additionalStartupParameters = configuration.sessionParameters + [("application_name", name)]
        return result
    }
}
