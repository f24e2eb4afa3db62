public import FerryCore
public import Foundation
internal import GRDB

extension SQLiteJobStore {
    public func kindsWithDueWork(among kinds: Set<JobKind>) async throws(StoreError) -> Set<JobKind> {
        guard !kinds.isEmpty else { return [] }
        try await applyWallClockStep()
        let now = nowMilliseconds
        return try await read { db in
            var due: Set<JobKind> = []
            for kind in kinds {
                let found = try Bool.fetchOne(
                    db.cachedStatement(sql: "SELECT " + Self.waitingSets(kind).anyDue(now: "?1")), arguments: [now])
                if found == true { due.insert(kind) }
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
        try await applyWallClockStep()
        let now = nowMilliseconds
        return try await write { db in try Self.claim(db, kind: kind, for: owner, limit: limit, now: now) }
    }

    /// The waiting jobs of `kind` a claim may take (``WaitingSets``): for uploads, as on
    /// PostgreSQL, each only once its download has succeeded (an upload waits while its download
    /// is fetched again).
    static func waitingSets(_ kind: JobKind) -> WaitingSets {
        WaitingSets(
            kind,
            uploadReady: """
                AND EXISTS (SELECT 1 FROM uploads u JOIN jobs d ON d.id = u.download_id
                    WHERE u.job_id = jobs.id AND d.state = 'succeeded')
                """)
    }

    /// Claims in `db`'s transaction (see ``claimDueJobs(of:for:limit:)``).
    static func claim(_ db: Database, kind: JobKind, for owner: WorkerID, limit: Int, now: Int64) throws -> [ClaimedJob]
    {
        guard limit > 0 else { return [] }
        let lifecycle = JobLifecycle.of(kind)
        // One statement picks and takes the batch: nothing can claim the same rows in between,
        // and the schema's triggers check the owner is alive and log every claim. The index
        // `jobs_queue` yields the batch in claim order without sorting.
        let rows = try Row.fetchCursor(
            db.cachedStatement(
                sql: """
                    UPDATE jobs
                    SET state = '\(lifecycle.runningState.rawValue)', state_cause = 'claim', state_reason = NULL,
                        owner = ?1, attempt = attempt + 1, started_at = ?2, heartbeat_at = ?2,
                        updated_at = max(?2, updated_at)
                    WHERE id IN (\(waitingSets(kind).candidates(now: "?2", limit: "?3")))
                    RETURNING \(JobColumns.list)
                    """),
            arguments: [owner.rawValue, now, limit])
        // RETURNING has no order: restore the claim order for the caller.
        var claimed: [Job] = []
        claimed.reserveCapacity(limit)
        while let row = try rows.next() { claimed.append(try Job(row: row)) }
        let jobs = claimed.sorted { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            if a.dueAt != b.dueAt { return a.dueAt < b.dueAt }
            return a.id < b.id
        }
        let details = try payloads(db, kind: kind, ids: jobs.map(\.id))
        return try jobs.map { job in
            guard let payload = details[job.id] else {
                throw StoreError(.corrupt, "job \(job.id) has no \(kind) details", jobID: job.id)
            }
            return ClaimedJob(job: job, payload: payload)
        }
    }

    public func recordProgress(_ reports: [ProgressReport]) async throws(StoreError) -> [JobLease] {
        guard !reports.isEmpty else { return [] }
        let now = nowMilliseconds
        return try await write { db in try Self.recordProgress(db, reports, now: now) }
    }

    /// Writes progress in `db`'s transaction; returns the reports whose lease was lost.
    static func recordProgress(_ db: Database, _ reports: [ProgressReport], now: Int64) throws -> [JobLease] {
        guard !reports.isEmpty else { return [] }
        let statement = try db.cachedStatement(
            sql: """
                UPDATE jobs SET bytes_done = ?, bytes_total = ?, resume_state = COALESCE(?, resume_state),
                    heartbeat_at = ?, updated_at = max(?, updated_at)
                WHERE id = ? AND owner = ? AND attempt = ? AND state IN ('running', 'storing')
                """)
        var lost: [JobLease] = []
        for report in reports {
            try statement.execute(arguments: [
                report.progress.bytesDone, report.progress.bytesTotal, report.resumeState, now, now,
                report.lease.jobID.rawValue, report.lease.owner.rawValue, report.lease.attempt,
            ])
            if db.changesCount == 0 { lost.append(report.lease) }
        }
        return lost
    }
}

extension SQLiteJobStore {
    public func earliestDue(among kinds: Set<JobKind>) async throws(StoreError) -> [JobKind: Date] {
        guard !kinds.isEmpty else { return [:] }
        // The idle supervisor sleeps until the time read here: a wall-clock step not yet applied
        // would put it to sleep for the step's length (ten minutes after the clock went back).
        try await applyWallClockStep()
        return try await read { db in
            var due: [JobKind: Date] = [:]
            for kind in kinds {
                // The kind's waiting sets: empty for an idle supervisor.
                let earliest = try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT " + Self.waitingSets(kind).earliestDue))
                if let earliest { due[kind] = Date(storeMilliseconds: earliest) }
            }
            return due
        }
    }

    /// `PRAGMA data_version` of the writer connection, which every write of this process goes
    /// through: it changes only when another connection commits.
    public func externalWriteMarker() async throws(StoreError) -> Int64? {
        do {
            return try await pool.writeWithoutTransaction { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") }
        } catch {
            throw StoreError.wrapping(error, path: configuration.path)
        }
    }
}

extension SQLiteJobStore {
    public func assignLanes() async throws(StoreError) -> Int {
        let serial = configuration.serialTargets.sorted()
        return try await write { db in
            // A running upload keeps its lane (the index counts it); it takes the new one when it
            // waits again, at the next start.
            try db.execute(
                sql: """
                    UPDATE jobs SET lane = wanted.lane
                    FROM (SELECT job_id, CASE WHEN target IN (SELECT value FROM json_each(?)) THEN target END AS lane
                        FROM uploads) AS wanted
                    WHERE wanted.job_id = jobs.id AND jobs.kind = 'upload' AND jobs.state IN ('queued', 'paused')
                        AND jobs.lane IS NOT wanted.lane
                    """, arguments: [try Self.jsonArray(serial)])
            return db.changesCount
        }
    }
}
