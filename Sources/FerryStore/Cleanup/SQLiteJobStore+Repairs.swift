public import FerryCore
import Foundation
internal import GRDB

/// What the cleanup run changes in the records, each a transition like any other (logged, checked
/// by the schema), applied by the supervisor from the cleanup worker's findings.
extension SQLiteJobStore {
    /// Every finished download and stored video with a file, except downloads whose file left on
    /// purpose (delivered to every target and removed, their uploads cleaned).
    public func fileRecords() async throws(StoreError) -> [FileRecord] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT j.id, j.kind, j.result_location, j.result_size, j.result_sha256 FROM jobs j
                    WHERE ((j.kind = 'download' AND j.state = 'succeeded') OR (j.kind = 'video' AND j.state = 'stored'))
                        AND NOT EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                            WHERE u.download_id = j.id AND uj.state = 'cleaned')
                    """
            ).map { row in
                FileRecord(
                    jobID: JobID(row[0] as Int64), kind: JobKind(rawValue: row[1]) ?? .download, path: row[2],
                    size: row[3], sha256: row[4])
            }
        }
    }

    /// Of the given downloads, those whose file left on purpose: delivered to every target and
    /// removed, their uploads marked cleaned. A file of one still on disk is what a supervisor that
    /// died between recording the clean-up and removing the file left behind.
    public func deliveredAndRemoved(_ ids: [JobID]) async throws(StoreError) -> Set<JobID> {
        try await read { db in
            var found: Set<JobID> = []
            for chunk in ids.map(\.rawValue).chunked(into: 500) {
                let placeholders = chunk.map { _ in "?" }.joined(separator: ", ")
                for id in try Int64.fetchAll(
                    db,
                    sql: """
                        SELECT DISTINCT u.download_id FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                        WHERE uj.state = 'cleaned' AND u.download_id IN (\(placeholders))
                        """,
                    arguments: StatementArguments(chunk))
                {
                    found.insert(JobID(id))
                }
            }
            return found
        }
    }

    /// The states of the given jobs (absent ids are not in the result).
    public func states(of ids: [JobID]) async throws(StoreError) -> [JobID: JobState] {
        try await read { db in
            var states: [JobID: JobState] = [:]
            for chunk in ids.map(\.rawValue).chunked(into: 500) {
                let placeholders = chunk.map { _ in "?" }.joined(separator: ", ")
                for row in try Row.fetchAll(
                    db, sql: "SELECT id, state FROM jobs WHERE id IN (\(placeholders))",
                    arguments: StatementArguments(chunk))
                {
                    if let state = JobState(rawValue: row[1]) { states[JobID(row[0] as Int64)] = state }
                }
            }
            return states
        }
    }

    /// Queued uploads waiting longer than `minimumAge`, with the file they would upload.
    public func queuedUploadSources(
        olderThan minimumAge: Duration, limit: Int
    ) async throws(StoreError) -> [(upload: JobID, source: String?)] {
        let cutoff = nowMilliseconds - minimumAge.inMilliseconds
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT j.id, d.result_location FROM jobs j JOIN uploads u ON u.job_id = j.id
                    JOIN jobs d ON d.id = u.download_id
                    WHERE j.kind = 'upload' AND j.state = 'queued' AND j.created_at <= ?
                        -- A download being fetched again (its file had gone) brings a new file:
                        -- its uploads wait for it. One that ended for good never will.
                        AND d.state IN ('succeeded', 'failed', 'cancelled')
                    ORDER BY j.id LIMIT ?
                    """, arguments: [cutoff, limit]
            ).map { (JobID($0[0] as Int64), $0[1] as String?) }
        }
    }

    /// Fails a queued job whose input has vanished.
    public func failQueued(_ id: JobID, with failure: JobFailure) async throws(StoreError) -> Job {
        let now = nowMilliseconds
        return try await write(jobID: id) { db in
            let job = try JobTransition.load(db, id)
            let move = JobTransition(
                command: .fail, reason: "\(failure.code): \(failure.message)",
                assignments: [
                    ("last_error", failure.message), ("last_error_code", failure.code),
                    ("last_error_class", failure.failureClass.rawValue),
                ])
            return try move.apply(db, to: job, now: now)
        }
    }

    /// Sends a finished download or stored video whose file is missing or damaged back to be
    /// fetched again from its source, with a fresh set of attempts.
    public func refetch(_ id: JobID, reason: String) async throws(StoreError) -> Job {
        let now = nowMilliseconds
        let policies = configuration.retryPolicies
        return try await write(jobID: id) { db in
            let job = try JobTransition.load(db, id)
            if job.kind == .download, try Self.isAdopted(db, id) {
                throw StoreError(
                    .conflict,
                    "download \(id) was adopted from a file with no record: there is no source to fetch it again from",
                    jobID: id)
            }
            // The scan may have read the record just before the file left on purpose (delivered
            // to every target, uploads marked cleaned, then removed): that file is not missing.
            if job.kind == .download,
                try Bool.fetchOne(
                    db,
                    sql: """
                        SELECT EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                            WHERE u.download_id = ? AND uj.state = 'cleaned')
                        """, arguments: [id.rawValue]) == true
            {
                throw StoreError(
                    .conflict, "download \(id) was delivered and its file removed on purpose; nothing to fetch",
                    jobID: id)
            }
            let move = JobTransition(
                command: .refetch, reason: reason,
                assignments: [
                    ("result_location", nil), ("result_size", nil), ("result_sha256", nil),
                    ("result_content_type", nil), ("resume_state", nil), ("due_at", now),
                    ("max_attempts", job.attempt + policies[job.kind].maxAttempts), ("bytes_done", 0),
                ])
            return try move.apply(db, to: job, now: now)
        }
    }

    /// Folds the WAL back into the database file and refreshes the planner's statistics.
    public func maintain() async throws(StoreError) {
        try await write { db in
            try db.execute(sql: "PRAGMA optimize")
        }
        do {
            try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        } catch {
            throw StoreError.wrapping(error, path: configuration.path)
        }
    }
}
