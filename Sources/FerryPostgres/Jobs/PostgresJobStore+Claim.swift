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
                    unsafeSQL: Self.perKind(kinds) { $0.anyDue(now: "$1") },
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
            // Each waiting set's index gives its rows; min() scans them.
            let rows = try await connection.rows(
                PostgresQuery(
                    unsafeSQL: Self.perKind(kinds) { $0.earliestDue },
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
    /// `expression` gets the kind's ``waitingSets(_:)``. Kinds and states are the lifecycle's own
    /// names, not input.
    static func perKind(_ kinds: Set<JobKind>, _ expression: (WaitingSets) -> String) -> String {
        kinds.sorted { $0.rawValue < $1.rawValue }.map { kind in
            "SELECT '\(kind.rawValue)'::text, \(expression(waitingSets(kind)))"
        }.joined(separator: " UNION ALL ")
    }

    /// The waiting jobs of `kind` this node may claim (``WaitingSets``): for uploads, with
    /// ``uploadReady``. `= ANY (ARRAY(…))` runs the lane heads' query once and looks each head up
    /// by its id, where `IN (…)` let the planner join every upload to find them (19 ms at 3,000
    /// held).
    static func waitingSets(_ kind: JobKind) -> WaitingSets {
        WaitingSets(kind, uploadReady: uploadReady) { "jobs.id = ANY (ARRAY(\($0)))" }
    }

    /// The ids of the first `$3` jobs due at `$2`, in claim order, locked; `SKIP LOCKED` passes
    /// over rows another node is claiming.
    static func candidates(_ kind: JobKind) -> String {
        waitingSets(kind).candidates(now: "$2", limit: "$3", lock: "FOR UPDATE SKIP LOCKED")
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
    /// nodes never queue behind each other's claims. The picked rows are a materialized CTE, run
    /// once: as `WHERE id IN (… LIMIT … FOR UPDATE SKIP LOCKED)` the planner may run the subquery
    /// again for each row it scans, and a rerun skips the rows this statement already updated and
    /// returns the next ones, so a claim took more than its limit (and jobs not yet due). The
    /// update checks the row still waits: a row another node's claim took meanwhile is read again
    /// when locked, and a lane's head is named by the statement's snapshot, so without the check
    /// one upload was claimed twice (twoNodesOneLane).
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
                WITH picked(picked_id) AS MATERIALIZED (\(candidates(kind))),
                claimed AS (
                    UPDATE jobs
                    SET state = '\(lifecycle.runningState.rawValue)', state_cause = 'claim', state_reason = NULL,
                        owner = $1, attempt = attempt + 1, started_at = $2, heartbeat_at = $2, updated_at = $2
                    FROM picked
                    WHERE jobs.id = picked.picked_id AND jobs.state = '\(lifecycle.waitingState.rawValue)'
                    RETURNING \(JobColumns.qualified(by: "jobs")))
                SELECT \(JobColumns.qualified(by: "claimed")), \(columns) FROM claimed \(join)
                ORDER BY claimed.priority DESC, claimed.due_at, claimed.id
                """
        }
    }

    /// An upload is claimed only once its download has succeeded and only on the node holding the
    /// download's file (any node when the file's node is not recorded: one node, or a tool). A
    /// lane's head is read from the snapshot, not the locked rows: a head another node is claiming
    /// right now (`SKIP LOCKED` passes over it), or whose file is on another node, still holds the
    /// rest of its lane back, so the lane keeps its order, and two claims at once take one upload
    /// of it (`jobs_one_running_per_lane` refuses a second should anything else try).
    static let uploadReady = """
        AND EXISTS (SELECT 1 FROM uploads u JOIN jobs d ON d.id = u.download_id
            WHERE u.job_id = jobs.id AND d.state = 'succeeded' AND \(fileIsHere("d.node")))
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
        // A batch without progress sends nothing (an empty UPDATE was 300 µs of the server's time).
        guard !reports.isEmpty else { return [] }
        var latest: [JobLease: ProgressReport] = [:]
        for report in reports { latest[report.lease] = report }
        let rows = Array(latest.values)
        // One report takes the scalar statement, planned once per connection (as CompleteOne).
        let updated =
            rows.count == 1
            ? try await connection.rows(RecordOneProgress.self, scalars(rows[0], now: now), logger)
            : try await connection.rows(RecordProgress.self, arrays(rows, now: now), logger)
        var kept: Set<JobLease> = []
        for row in updated {
            kept.insert(
                JobLease(
                    jobID: JobID(try row.value(0, as: Int64.self)), owner: WorkerID(try row.value(1, as: String.self)),
                    attempt: Int(try row.value(2, as: Int64.self))))
        }
        return reports.map(\.lease).filter { !kept.contains($0) }
    }

    /// The parameters of ``RecordOneProgress``.
    static func scalars(_ report: ProgressReport, now: Int64) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(report.lease.jobID.rawValue)
        binds.append(report.lease.owner.rawValue)
        binds.append(Int64(report.lease.attempt))
        binds.append(report.progress.bytesDone)
        _ = binds.placeholder(report.progress.bytesTotal)
        binds.append(report.resumeState != nil)
        _ = binds.placeholder(report.resumeState)
        binds.append(now)
        return binds
    }

    /// The parameters of ``RecordProgress``.
    static func arrays(_ rows: [ProgressReport], now: Int64) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(rows.map(\.lease.jobID.rawValue))
        binds.append(rows.map(\.lease.owner.rawValue))
        binds.append(rows.map { Int64($0.lease.attempt) })
        binds.append(rows.map(\.progress.bytesDone))
        binds.append(NullableArray(rows.map(\.progress.bytesTotal)))
        binds.append(rows.map { $0.resumeState != nil })
        binds.append(NullableArray(rows.map(\.resumeState)))
        binds.append(now)
        return binds
    }

    /// Progress for many leases: one array per column; `has_resume` tells a report that keeps the
    /// job's resume state from one that clears it. Each job is found by its id whatever the
    /// statistics say: no condition is one on `jobs` alone (see `CompleteAttempts`).
    enum RecordProgress: StatementShape {
        static let sql = """
            UPDATE jobs SET \(progress(done: "r.done", total: "r.total", hasResume: "r.has_resume", resume: "r.resume"))
            FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::boolean[], $7::text[])
                AS r(id, owner, attempt, done, total, has_resume, resume)
            WHERE jobs.id = r.id AND (jobs.owner = r.owner) IS TRUE AND jobs.attempt = r.attempt
                AND (jobs.state IN ('running', 'storing') AND r.id = jobs.id) IS TRUE
            RETURNING jobs.id, jobs.owner, jobs.attempt
            """
    }

    /// One report's progress in scalars, the same parameters in the same order.
    enum RecordOneProgress: StatementShape {
        static let sql = """
            UPDATE jobs SET \(progress(done: "$4::bigint", total: "$5::bigint", hasResume: "$6::boolean",
                resume: "$7::text"))
            WHERE \(heldByLease)
            RETURNING jobs.id, jobs.owner, jobs.attempt
            """
    }

    /// The assignments of a progress report ($8 now), each argument an SQL expression.
    static func progress(done: String, total: String, hasResume: String, resume: String) -> String {
        """
        bytes_done = \(done), bytes_total = \(total),
            resume_state = CASE WHEN \(hasResume) THEN \(resume) ELSE jobs.resume_state END,
            heartbeat_at = $8, updated_at = $8
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
