public import FerryCore
public import Foundation
internal import GRDB

/// Retention and the leftovers of finished uploads: what a cleanup run removes for good.
extension SQLiteJobStore {
    /// Deletes finished records that ended before `cutoff`, with their events (the schema
    /// cascades): downloads that are over (succeeded, failed, cancelled) together with their
    /// uploads once every upload is over too, and failed videos. Stored videos are permanent and
    /// never expire. With `keepRecordsWithFiles`, a succeeded download whose file is still meant
    /// to be on disk (not delivered and removed) keeps its record, so the file never becomes an
    /// orphan. Works in batches so no write transaction holds the database for long.
    public func expireFinished(
        before cutoff: Date, keepRecordsWithFiles: Bool, dryRun: Bool, batchSize: Int
    ) async throws(StoreError) -> ExpiredRecords {
        let cutoffMilliseconds = cutoff.storeMilliseconds
        let candidates = """
            SELECT j.id, CASE WHEN j.state = 'succeeded' AND NOT EXISTS (
                    SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                    WHERE u.download_id = j.id AND uj.state = 'cleaned') THEN j.result_location END
            FROM jobs j
            WHERE j.kind = 'download' AND j.state IN ('succeeded', 'failed', 'cancelled') AND j.finished_at < ?1
                AND NOT EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id WHERE u.download_id = j.id
                    AND (uj.state NOT IN ('succeeded', 'failed', 'cancelled', 'cleaned') OR uj.updated_at >= ?1))
                AND (?2 = 0 OR j.state <> 'succeeded' OR EXISTS (SELECT 1 FROM uploads u JOIN jobs uj
                    ON uj.id = u.job_id WHERE u.download_id = j.id AND uj.state = 'cleaned'))
                AND j.id > ?3
            UNION ALL
            SELECT j.id, NULL FROM jobs j
            WHERE j.kind = 'video' AND j.state = 'failed' AND j.finished_at < ?1 AND j.id > ?3
            ORDER BY 1 LIMIT ?4
            """
        var expired = ExpiredRecords()
        var after: Int64 = 0
        while true {
            let start = after
            let select: @Sendable (Database) throws -> [(Int64, String?)] = { db in
                let rows = try Row.fetchAll(
                    db, sql: candidates,
                    arguments: [cutoffMilliseconds, keepRecordsWithFiles ? 1 : 0, start, batchSize]
                ).map { ($0[0] as Int64, $0[1] as String?) }
                if !dryRun {
                    for chunk in rows.map(\.0).chunked(into: 500) {
                        let placeholders = chunk.map { _ in "?" }.joined(separator: ", ")
                        try db.execute(
                            sql: "DELETE FROM jobs WHERE id IN (\(placeholders))", arguments: StatementArguments(chunk))
                    }
                }
                return rows
            }
            // A dry run only reads: it takes no write lock from the supervisor's other work.
            let batch = dryRun ? try await read(select) : try await write(select)
            expired.records += batch.count
            expired.files += batch.compactMap(\.1)
            guard batch.count == batchSize, let last = batch.last?.0 else { break }
            after = last
        }
        return expired
    }

    /// Upload jobs that ended for good while their resume state still names an unfinished
    /// multipart upload on the server, with their target.
    public func abandonedUploads() async throws(StoreError) -> [(job: JobID, target: String, resumeState: String)] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT j.id, u.target, j.resume_state FROM jobs j JOIN uploads u ON u.job_id = j.id
                    WHERE j.kind = 'upload' AND j.state IN ('failed', 'cancelled') AND j.resume_state IS NOT NULL
                    ORDER BY j.id
                    """
            ).map { (JobID($0[0] as Int64), $0[1] as String, $0[2] as String) }
        }
    }

    public func deliveries(
        to targets: [String], since: Int64
    ) async throws(StoreError) -> [(job: JobID, target: String, location: String)] {
        guard !targets.isEmpty else { return [] }
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT j.id, u.target, j.result_location FROM jobs j JOIN uploads u ON u.job_id = j.id
                    WHERE j.kind = 'upload' AND j.state IN ('succeeded', 'cleaned') AND j.finished_at >= ?
                        AND j.result_location IS NOT NULL
                        AND u.target IN (\(Array(repeating: "?", count: targets.count).joined(separator: ", ")))
                    ORDER BY j.id
                    """, arguments: StatementArguments([since] + targets)
            ).map { (JobID($0[0] as Int64), $0[1] as String, $0[2] as String) }
        }
    }

    /// Forgets a finished upload's resume state once its multipart upload is gone from the
    /// server; a job retried since (its state cleared or replaced) is left alone.
    public func forgetAbandonedUpload(_ id: JobID, uploadID: String) async throws(StoreError) {
        try await write(jobID: id) { db in
            try db.execute(
                sql: """
                    UPDATE jobs SET resume_state = NULL
                    WHERE id = ? AND state IN ('failed', 'cancelled') AND instr(resume_state, ?) > 0
                    """, arguments: [id.rawValue, uploadID])
        }
    }
}
