public import FerryCore
public import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore {
    public func kindsWithDueWork(among kinds: Set<JobKind>) async throws(StoreError) -> Set<JobKind> {
        guard !kinds.isEmpty else { return [] }
        let now = nowMilliseconds
        let logger = logger
        return try await read { connection in
            var due: Set<JobKind> = []
            for kind in kinds {
                let state = JobLifecycle.of(kind).waitingState.rawValue
                let affinity = kind == .upload ? Self.uploadAffinity : ""
                let found = try await connection.row(
                    PostgresQuery(
                        unsafeSQL:
                            "SELECT EXISTS (SELECT 1 FROM jobs WHERE kind = $1 AND state = $2 AND due_at <= $3 \(affinity))",
                        binds: Self.binds(kind.rawValue, state, now)), logger)
                if try found?.value(0, as: Bool.self) == true { due.insert(kind) }
            }
            return due
        }
    }

    public func earliestDue(among kinds: Set<JobKind>) async throws(StoreError) -> [JobKind: Date] {
        guard !kinds.isEmpty else { return [:] }
        let logger = logger
        return try await read { connection in
            var due: [JobKind: Date] = [:]
            for kind in kinds {
                let state = JobLifecycle.of(kind).waitingState.rawValue
                let affinity = kind == .upload ? Self.uploadAffinity : ""
                // The jobs_queue index's (kind, state) prefix gives the rows; min() scans them.
                if let earliest = try await connection.row(
                    PostgresQuery(
                        unsafeSQL: "SELECT min(due_at) FROM jobs WHERE kind = $1 AND state = $2 \(affinity)",
                        binds: Self.binds(kind.rawValue, state)), logger)?.optionalDate(0)
                {
                    due[kind] = earliest
                }
            }
            return due
        }
    }

    public func claimDueJobs(
        of kind: JobKind, for owner: WorkerID, limit: Int
    ) async throws(StoreError)
        -> [ClaimedJob]
    {
        guard limit > 0 else { return [] }
        let now = nowMilliseconds
        let logger = logger
        return try await single { connection in
            try await Self.claim(connection, kind: kind, for: owner, limit: limit, now: now, logger)
        }
    }

    /// Claims, with the claimed jobs' details, in one statement (its own transaction when run
    /// alone). `SKIP LOCKED` passes over rows another node is claiming or moving right now, so
    /// nodes never queue behind each other's claims.
    static func claim(
        _ connection: PostgresConnection, kind: JobKind, for owner: WorkerID, limit: Int, now: Int64, _ logger: Logger
    ) async throws -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        let lifecycle = JobLifecycle.of(kind)
        let (columns, join) = PayloadColumns.join(kind, to: "claimed")
        let rows = try await connection.rows(
            PostgresQuery(
                unsafeSQL: """
                    WITH claimed AS (
                        UPDATE jobs
                        SET state = '\(lifecycle.runningState.rawValue)', state_cause = 'claim', state_reason = NULL,
                            owner = $1, attempt = attempt + 1, started_at = $2, heartbeat_at = $2, updated_at = $2
                        WHERE id IN (
                            SELECT id FROM jobs
                            WHERE kind = '\(kind.rawValue)' AND state = '\(lifecycle.waitingState.rawValue)' AND due_at <= $2
                                \(kind == .upload ? Self.uploadAffinity : "")
                            ORDER BY priority DESC, due_at, id
                            LIMIT $3
                            FOR UPDATE SKIP LOCKED)
                        RETURNING \(JobColumns.list))
                    SELECT \(JobColumns.qualified(by: "claimed")), \(columns) FROM claimed \(join)
                    ORDER BY claimed.priority DESC, claimed.due_at, claimed.id
                    """, binds: binds(owner.rawValue, now, Int64(limit))), logger)
        return try rows.map { row in
            ClaimedJob(
                job: try Job(postgres: row), payload: try PayloadColumns.decode(kind, row, at: JobColumns.names.count))
        }
    }

    /// An upload is claimed only once its download has succeeded, and only on the node holding
    /// the download's file (any node when the file's node is not recorded: one node, or a tool).
    static let uploadAffinity = """
        AND EXISTS (SELECT 1 FROM uploads u JOIN jobs d ON d.id = u.download_id
            WHERE u.job_id = jobs.id AND d.state = 'succeeded'
                AND (d.node IS NULL OR d.node = NULLIF(current_setting('ferry.node', true), '')
                    OR NULLIF(current_setting('ferry.node', true), '') IS NULL))
        """

    public func recordProgress(_ reports: [ProgressReport]) async throws(StoreError) -> [JobLease] {
        guard !reports.isEmpty else { return [] }
        let now = nowMilliseconds
        let logger = logger
        return try await write { connection in try await Self.recordProgress(connection, reports, now: now, logger) }
    }

    /// Writes progress in the connection's transaction; returns the reports whose lease was lost.
    static func recordProgress(
        _ connection: PostgresConnection, _ reports: [ProgressReport], now: Int64, _ logger: Logger
    ) async throws -> [JobLease] {
        var lost: [JobLease] = []
        for report in reports {
            let updated = try await connection.row(
                """
                UPDATE jobs SET bytes_done = \(report.progress.bytesDone), bytes_total = \(report.progress.bytesTotal),
                    resume_state = COALESCE(\(report.resumeState)::text, resume_state), heartbeat_at = \(now), updated_at = \(now)
                WHERE id = \(report.lease.jobID.rawValue) AND owner = \(report.lease.owner.rawValue)
                    AND attempt = \(report.lease.attempt) AND state IN ('running', 'storing')
                RETURNING id
                """, logger)
            if updated == nil { lost.append(report.lease) }
        }
        return lost
    }
}
