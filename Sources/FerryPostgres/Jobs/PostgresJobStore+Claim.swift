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
            let rows = try await connection.rows(
                PostgresQuery(
                    unsafeSQL: Self.perKind(kinds) { "EXISTS (SELECT 1 FROM jobs WHERE \($0) AND due_at <= $1)" },
                    binds: Self.binds(now)), logger)
            var due: Set<JobKind> = []
            for row in rows where try row.value(1, as: Bool.self) {
                if let kind = JobKind(rawValue: try row.value(0, as: String.self)) { due.insert(kind) }
            }
            return due
        }
    }

    public func earliestDue(among kinds: Set<JobKind>) async throws(StoreError) -> [JobKind: Date] {
        guard !kinds.isEmpty else { return [:] }
        let logger = logger
        return try await read { connection in
            // The jobs_queue index's (kind, state) prefix gives each kind's rows; min() scans them.
            let rows = try await connection.rows(
                PostgresQuery(
                    unsafeSQL: Self.perKind(kinds) { "(SELECT min(due_at) FROM jobs WHERE \($0))" },
                    binds: PostgresBindings()), logger)
            var due: [JobKind: Date] = [:]
            for row in rows {
                guard let kind = JobKind(rawValue: try row.value(0, as: String.self)), let at = try row.optionalDate(1)
                else { continue }
                due[kind] = at
            }
            return due
        }
    }

    /// One statement that answers `expression` for each kind (one round trip, not one per kind):
    /// `expression` gets the condition selecting the kind's waiting jobs (for uploads, only those
    /// this node may claim). Kinds and states are the lifecycle's own names, not input.
    static func perKind(_ kinds: Set<JobKind>, _ expression: (String) -> String) -> String {
        kinds.sorted { $0.rawValue < $1.rawValue }.map { kind in
            let waiting =
                "kind = '\(kind.rawValue)' AND state = '\(JobLifecycle.of(kind).waitingState.rawValue)'"
                + (kind == .upload ? " \(uploadAffinity)" : "")
            return "SELECT '\(kind.rawValue)'::text, \(expression(waiting))"
        }.joined(separator: " UNION ALL ")
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
        let binds = binds(owner.rawValue, now, Int64(limit))
        let rows =
            switch kind {
            case .download: try await connection.rows(Claim<DownloadKind>.self, binds, logger)
            case .upload: try await connection.rows(Claim<UploadKind>.self, binds, logger)
            case .video: try await connection.rows(Claim<VideoKind>.self, binds, logger)
            }
        return try rows.map { row in
            ClaimedJob(
                job: try Job(postgres: row), payload: try PayloadColumns.decode(kind, row, at: JobColumns.names.count))
        }
    }

    /// A kind's claim: $1 the owner, $2 now, $3 the most jobs to take.
    enum Claim<Kind: KindTag>: StatementShape {
        static var sql: String {
            let kind = Kind.kind
            let lifecycle = JobLifecycle.of(kind)
            let (columns, join) = PayloadColumns.join(kind, to: "claimed")
            return """
                WITH claimed AS (
                    UPDATE jobs
                    SET state = '\(lifecycle.runningState.rawValue)', state_cause = 'claim', state_reason = NULL,
                        owner = $1, attempt = attempt + 1, started_at = $2, heartbeat_at = $2, updated_at = $2
                    WHERE id IN (
                        SELECT id FROM jobs
                        WHERE kind = '\(kind.rawValue)' AND state = '\(lifecycle.waitingState.rawValue)' AND due_at <= $2
                            \(kind == .upload ? uploadAffinity : "")
                        ORDER BY priority DESC, due_at, id
                        LIMIT $3
                        FOR UPDATE SKIP LOCKED)
                    RETURNING \(JobColumns.list))
                SELECT \(JobColumns.qualified(by: "claimed")), \(columns) FROM claimed \(join)
                ORDER BY claimed.priority DESC, claimed.due_at, claimed.id
                """
        }
    }

    /// An upload is claimed only once its download has succeeded, only on the node holding the
    /// download's file (any node when the file's node is not recorded: one node, or a tool), and,
    /// in a lane, only as the lane's head (its first ready upload in claim order, on whichever
    /// node) while no other upload of the lane runs. The head is read from the snapshot, not the
    /// locked rows: a head another node is claiming right now (`SKIP LOCKED` passes over it) still
    /// holds the rest of its lane back, so the lane keeps its order, and two claims at once take
    /// one upload of it (`jobs_one_running_per_lane` refuses a second should anything else try).
    static let uploadAffinity = """
        AND EXISTS (SELECT 1 FROM uploads u JOIN jobs d ON d.id = u.download_id
            WHERE u.job_id = jobs.id AND d.state = 'succeeded' AND \(fileIsHere("d.node")))
        AND \(FollowUpUploads.laneCondition)
        """

    /// Whether a file whose node is in `column` is on this session's node: yes when its node is
    /// not recorded, or when the session names no node (one node, or a tool).
    static func fileIsHere(_ column: String) -> String {
        """
        (\(column) IS NULL OR \(column) = NULLIF(current_setting('ferry.node', true), '')
            OR NULLIF(current_setting('ferry.node', true), '') IS NULL)
        """
    }

    public func recordProgress(_ reports: [ProgressReport]) async throws(StoreError) -> [JobLease] {
        guard !reports.isEmpty else { return [] }
        let now = nowMilliseconds
        let logger = logger
        return try await write { connection in try await Self.recordProgress(connection, reports, now: now, logger) }
    }

    /// Writes progress in the connection's transaction, every report in one statement; returns
    /// the reports whose lease was lost. Of several reports under one lease, the last one counts
    /// (an UPDATE … FROM applies one arbitrary row of several that match).
    static func recordProgress(
        _ connection: PostgresConnection, _ reports: [ProgressReport], now: Int64, _ logger: Logger
    ) async throws -> [JobLease] {
        var latest: [JobLease: ProgressReport] = [:]
        for report in reports { latest[report.lease] = report }
        let rows = Array(latest.values)
        var binds = PostgresBindings()
        binds.append(rows.map(\.lease.jobID.rawValue))
        binds.append(rows.map(\.lease.owner.rawValue))
        binds.append(rows.map { Int64($0.lease.attempt) })
        binds.append(rows.map(\.progress.bytesDone))
        binds.append(NullableArray(rows.map(\.progress.bytesTotal)))
        binds.append(rows.map { $0.resumeState != nil })
        binds.append(NullableArray(rows.map(\.resumeState)))
        binds.append(now)
        let updated = try await connection.rows(RecordProgress.self, binds, logger)
        var kept: Set<JobLease> = []
        for row in updated {
            kept.insert(
                JobLease(
                    jobID: JobID(try row.value(0, as: Int64.self)), owner: WorkerID(try row.value(1, as: String.self)),
                    attempt: Int(try row.value(2, as: Int64.self))))
        }
        return reports.map(\.lease).filter { !kept.contains($0) }
    }

    /// Progress for many leases: one array per column; `has_resume` tells a report that keeps the
    /// job's resume state from one that clears it.
    enum RecordProgress: StatementShape {
        static let sql = """
            UPDATE jobs SET bytes_done = r.done, bytes_total = r.total,
                resume_state = CASE WHEN r.has_resume THEN r.resume ELSE jobs.resume_state END,
                heartbeat_at = $8, updated_at = $8
            FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::boolean[], $7::text[])
                AS r(id, owner, attempt, done, total, has_resume, resume)
            WHERE jobs.id = r.id AND jobs.owner = r.owner AND jobs.attempt = r.attempt
                AND jobs.state IN ('running', 'storing')
            RETURNING jobs.id, jobs.owner, jobs.attempt
            """
    }
}

extension PostgresJobStore {
    public func assignLanes() async throws(StoreError) -> Int {
        let serial = configuration.serialTargets.sorted()
        let logger = logger
        return try await write { connection in
            // A running upload keeps its lane (the index counts it); it takes the new one when it
            // waits again.
            try await connection.rows(
                """
                UPDATE jobs j SET lane = wanted.lane
                FROM (SELECT job_id, CASE WHEN target = ANY(\(serial)) THEN target END AS lane FROM uploads) wanted
                WHERE wanted.job_id = j.id AND j.kind = 'upload' AND j.state IN ('queued', 'paused')
                    AND j.lane IS DISTINCT FROM wanted.lane
                RETURNING j.id
                """, logger
            ).count
        }
    }
}
