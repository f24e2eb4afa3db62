public import FerryCore
import Foundation
import Logging
import PostgresNIO

/// The record of cleanup runs on PostgreSQL: each node runs the cleanup of the files it holds, so
/// at most one run is in progress per node (a unique index), and asking for a run while this
/// node's is under way returns that run instead of starting a second.
extension PostgresJobStore: CleanupStore {
    public func beginCleanupRun(
        trigger: CleanupRun.Trigger, dryRun: Bool
    ) async throws(StoreError) -> (run: CleanupRun, started: Bool) {
        let now = nowMilliseconds
        let logger = logger
        return try await write { connection in
            // Two requests on one node at once: the second waits here for the first to commit.
            try await connection.run(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT pg_advisory_xact_lock(hashtextextended('cleanup/' || COALESCE(\(Self.thisNode), ''), 0))"
                ), logger)
            if let running = try await connection.row(
                PostgresQuery(
                    unsafeSQL: Self.runSelect
                        + " WHERE state = 'running' AND node IS NOT DISTINCT FROM \(Self.thisNode)"
                ), logger)
            {
                return (try Self.run(running), false)
            }
            let row = try await connection.row(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO cleanup_runs (trigger, dry_run, state, started_at) VALUES ($1, $2, 'running', $3)
                        RETURNING \(Self.runColumns)
                        """, binds: Self.binds(trigger.rawValue, dryRun, now)), logger)
            return (try Self.run(try Self.required(row)), true)
        }
    }

    public func finishCleanupRun(_ id: Int64, report: CleanupReport) async throws(StoreError) -> CleanupRun {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: (try? encoder.encode(report)) ?? Data("{}".utf8), as: UTF8.self)
        return try await endRun(id, state: "succeeded", assignment: "report = $2", value: json)
    }

    public func failCleanupRun(_ id: Int64, error: String) async throws(StoreError) -> CleanupRun {
        try await endRun(id, state: "failed", assignment: "error = $2", value: error)
    }

    /// Runs left `running` by this node's name in an earlier life, or by a node that is gone (its
    /// lease ran out or it stopped): they will never finish. A live node's run is left alone.
    public func abandonCleanupRuns(reason: String) async throws(StoreError) {
        let now = nowMilliseconds
        let logger = logger
        try await write { connection in
            try await connection.run(
                PostgresQuery(
                    unsafeSQL: """
                        UPDATE cleanup_runs SET state = 'failed', finished_at = GREATEST($1, started_at), error = $2
                        WHERE state = 'running' AND (node IS NOT DISTINCT FROM \(Self.thisNode)
                            OR node IN (SELECT id FROM nodes WHERE name = (SELECT name FROM nodes WHERE id = \(Self.thisNode)))
                            OR node NOT IN (SELECT id FROM nodes
                                WHERE stopped_at IS NULL AND lease_expires_at > clock_timestamp()))
                        """, binds: Self.binds(now, reason)), logger)
        }
    }

    /// The latest run of this node's name (any of its incarnations; a tool sees every node's).
    public func lastCleanupRun() async throws(StoreError) -> CleanupRun? {
        let logger = logger
        return try await read { connection in
            try await connection.row(
                PostgresQuery(
                    unsafeSQL: Self.runSelect
                        + """
                         WHERE \(Self.thisNode) IS NULL OR node IS NOT DISTINCT FROM \(Self.thisNode)
                            OR node IN (SELECT id FROM nodes WHERE name = (SELECT name FROM nodes WHERE id = \(Self.thisNode)))
                        ORDER BY id DESC LIMIT 1
                        """), logger
            ).map(Self.run)
        }
    }

    public func cleanupRun(_ id: Int64) async throws(StoreError) -> CleanupRun? {
        let logger = logger
        return try await read { connection in
            try await connection.row(
                PostgresQuery(unsafeSQL: Self.runSelect + " WHERE id = $1", binds: Self.binds(id)), logger
            ).map(Self.run)
        }
    }

    private func endRun(
        _ id: Int64, state: String, assignment: String, value: String
    ) async throws(StoreError) -> CleanupRun {
        let now = nowMilliseconds
        let logger = logger
        return try await write { connection in
            let row = try await connection.row(
                PostgresQuery(
                    unsafeSQL: """
                        UPDATE cleanup_runs SET state = $3, finished_at = GREATEST($4, started_at), \(assignment)
                        WHERE id = $1 AND state = 'running' RETURNING \(Self.runColumns)
                        """, binds: Self.binds(id, value, state, now)), logger)
            guard let row else { throw StoreError(.illegalTransition, "cleanup run \(id) is not running") }
            return try Self.run(row)
        }
    }

    /// This session's node (NULL for a tool's session, which names none).
    static let thisNode = "NULLIF(current_setting('ferry.node', true), '')"

    static let runColumns = "id, trigger, dry_run, state, started_at, finished_at, report, error, node"
    static let runSelect = "SELECT \(runColumns) FROM cleanup_runs"

    static func required(_ row: PostgresRandomAccessRow?) throws -> PostgresRandomAccessRow {
        guard let row else { throw StoreError(.corrupt, "the database returned no row for a cleanup run it inserted") }
        return row
    }

    static func run(_ row: PostgresRandomAccessRow) throws -> CleanupRun {
        let report: CleanupReport? = try row.value(6, as: String?.self).map {
            try JSONDecoder().decode(CleanupReport.self, from: Data($0.utf8))
        }
        return CleanupRun(
            id: try row.value(0), trigger: CleanupRun.Trigger(rawValue: try row.value(1)) ?? .request,
            dryRun: try row.value(2), state: CleanupRun.State(rawValue: try row.value(3)) ?? .failed,
            startedAt: try row.date(4), finishedAt: try row.optionalDate(5), report: report,
            error: try row.value(7), node: try row.value(8))
    }
}
