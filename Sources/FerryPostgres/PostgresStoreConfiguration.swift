public import FerryCore
public import Foundation

/// Where the PostgreSQL store lives and how to reach it: `database.url` in the configuration.
///
/// The URL names the user, host, port and database (`postgres://ferry@127.0.0.1:5432/ferry`,
/// `?sslmode=disable|prefer|require`, `?host=/run/postgresql` for a Unix socket folder). The
/// password comes from a file or the environment (``password``), never from logs: ``description``
/// leaves it out, and a password written into the URL is accepted but never printed.
public struct PostgresStoreConfiguration: Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    /// A folder holding PostgreSQL's Unix socket, used instead of host and port when set.
    public var socketFolder: String?
    public var user: String
    public var database: String
    public var password: String?
    public var tls: TLSMode
    /// Connections this process keeps at most.
    public var maximumConnections: Int
    /// How long opening the store waits for the server's first answer.
    public var connectTimeout: Duration = .seconds(10)
    /// How long one store call may take before it fails as unavailable. While the server is
    /// unreachable the pool holds requests back (up to a minute, its circuit breaker's limit) and
    /// then refuses them until a new connection succeeds; a caller such as the supervisor's commit
    /// must hear about the outage sooner.
    public var callTimeout: Duration = .seconds(10)
    /// The node this process is, when several share the queue; nil for a single node or a tool.
    public var node: NodeIdentity?
    public var retryPolicies: RetryPolicies
    /// Upload targets that take one upload at a time (``FollowUpUploads/serialTargets``).
    public var serialTargets: Set<String> = []
    /// The clock; tests move it.
    public var now: @Sendable () -> Date

    public init(
        url: String, password: String? = nil, maximumConnections: Int = 8, retryPolicies: RetryPolicies = .standard,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws(StoreError) {
        guard let components = URLComponents(string: url),
            let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql"
        else {
            throw StoreError(
                .invalidInput,
                "database.url must look like postgres://USER@HOST:PORT/DATABASE, not '\(Self.redacted(url))'")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        socketFolder = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        port = components.port ?? 5432
        user = components.user.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding } ?? "ferry"
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : (path.removingPercentEncoding ?? path)
        self.password = password ?? components.password?.removingPercentEncoding
        let mode = query["sslmode"] ?? "prefer"
        guard let tls = TLSMode(rawValue: mode) else {
            throw StoreError(
                .invalidInput, "database.url: sslmode '\(mode)' is not one of disable, prefer, require")
        }
        self.tls = tls
        self.maximumConnections = maximumConnections
        self.retryPolicies = retryPolicies
        self.now = now
    }

    /// How a succeeded download's uploads are created.
    var followUps: FollowUpUploads { FollowUpUploads(policy: retryPolicies.upload, serialTargets: serialTargets) }

    /// What every session of this process sends at start-up. Every session of a node names it,
    /// for the fence (`ferry_fence`), and a transaction left open by a node that froze is ended by
    /// the server within one lease, so that its row locks cannot keep the live nodes from taking
    /// its work over.
    var sessionParameters: [(String, String)] {
        guard let node else { return [] }
        let lease = Int(node.lease.seconds * 1000)
        return [("ferry.node", node.id), ("idle_in_transaction_session_timeout", String(lease))]
    }

    /// How long connecting to the server may take.
    static let sessionConnectTimeout = Duration.seconds(5)

    /// `postgres://user@host:port/database`, never with the password.
    public var description: String {
        if let socketFolder { return "postgres://\(user)@/\(database)?host=\(socketFolder)" }
        return "postgres://\(user)@\(host):\(port)/\(database)"
    }

    /// A URL with any password in it replaced, for error messages.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "REDACTED"
        return components.string ?? "(unparseable URL)"
    }
}

extension PostgresStoreConfiguration {
    /// How a worker process reaches the database its supervisor named (`PostgresAccess`: the URL
    /// without a password, and where to read the password), on one connection of its own.
    public init(access: PostgresAccess) throws(StoreError) {
        try self.init(url: access.url, password: try access.password(), maximumConnections: 1)
    }
}
