import FerryCore
import Logging
import PostgresNIO

/// The text of one statement on a hot path. The server parses and plans it once per connection
/// and then only binds and runs it: planned again on every call, the store's statements spent more
/// time in the planner than in execution (BENCHMARKS.md, "Where Ferry's time goes on PostgreSQL").
/// Batches pass arrays (`unnest($1::bigint[], …)`), so one plan serves every batch size.
protocol StatementShape {
    /// The statement's name on the server; unique per shape.
    static var name: String { get }
    static var sql: String { get }
}

extension StatementShape {
    static var name: String { "ferry." + String(describing: self) }
}

/// One execution of a prepared `Shape` with its bindings (postgres-nio prepares it on first use
/// on each connection, and again on a fresh connection after a reconnect).
struct Prepared<Shape: StatementShape>: PostgresPreparedStatement {
    typealias Row = PostgresRandomAccessRow

    static var name: String { Shape.name }
    static var sql: String { Shape.sql }

    var bindings: PostgresBindings

    func makeBindings() -> PostgresBindings { bindings }

    func decodeRow(_ row: PostgresRow) -> PostgresRandomAccessRow { row.makeRandomAccess() }
}

extension PostgresConnection {
    /// Runs the prepared statement `shape` with `bindings` and returns every row.
    func rows<Shape: StatementShape>(
        _ shape: Shape.Type, _ bindings: PostgresBindings, _ logger: Logger
    ) async throws -> [PostgresRandomAccessRow] {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await execute(Prepared<Shape>(bindings: bindings), logger: logger) {
            rows.append(row)
        }
        return rows
    }
}

/// A job kind as a type, so that statements whose text names the kind (its states, its details'
/// table) are one prepared statement per kind.
protocol KindTag {
    static var kind: JobKind { get }
}

enum DownloadKind: KindTag { static var kind: JobKind { .download } }
enum UploadKind: KindTag { static var kind: JobKind { .upload } }
enum VideoKind: KindTag { static var kind: JobKind { .video } }
