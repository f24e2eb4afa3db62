public import FerryCore
public import Foundation
import PostgresNIO

/// Retention and the leftovers of finished uploads on PostgreSQL.
extension PostgresJobStore {
    /// Deletes finished records that ended before `cutoff`, as the SQLite store does (downloads
    /// that are over with all their uploads, failed videos; stored videos never; with
    /// `keepRecordsWithFiles`, no succeeded download whose file is meant to be on disk).
    ///
    /// Records without a file may be expired by any node (two nodes racing delete each row once;
    /// each counts only the rows it deleted). A succeeded download whose file is still on disk
    /// is expired only by the node holding that file (``fileIsHere(_:)``), which removes the file
    /// after the records: no node deletes a record whose file another node holds, and a file is
    /// never left on a node without its record. A node that is gone keeps its records until a node
    /// of its name returns (its files are that name's state folder's), or until it is forgotten:
    /// its files are then gone for good, and its records are expired like records without a file.
    public func expireFinished(
        before cutoff: Date, keepRecordsWithFiles: Bool, dryRun: Bool, batchSize: Int
    ) async throws(StoreError) -> ExpiredRecords {
        let cutoffMilliseconds = cutoff.storeMilliseconds
        let logger = logger
        // A file on a forgotten node (`ferry cluster forget`) is gone for good: its record has no
        // file to keep or to remove, and any node may expire it.
        let forgotten = "COALESCE(j.node IN (SELECT id FROM nodes WHERE stop_reason = 'forgotten'), false)"
        let candidates = """
            SELECT j.id, CASE WHEN j.state = 'succeeded' AND NOT \(forgotten) AND NOT EXISTS (
                    SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                    WHERE u.download_id = j.id AND uj.state = 'cleaned') THEN j.result_location END
            FROM jobs j
            WHERE j.kind = 'download' AND j.state IN ('succeeded', 'failed', 'cancelled') AND j.finished_at < $1
                AND NOT EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id WHERE u.download_id = j.id
                    AND (uj.state NOT IN ('succeeded', 'failed', 'cancelled', 'cleaned') OR uj.updated_at >= $1))
                AND ($2 = false OR j.state <> 'succeeded' OR \(forgotten) OR EXISTS (SELECT 1 FROM uploads u JOIN jobs uj
                    ON uj.id = u.job_id WHERE u.download_id = j.id AND uj.state = 'cleaned'))
                AND (j.state <> 'succeeded' OR \(Self.fileIsHere("j.node")) OR \(forgotten) OR EXISTS (SELECT 1
                    FROM uploads u JOIN jobs uj ON uj.id = u.job_id WHERE u.download_id = j.id AND uj.state = 'cleaned'))
                AND j.id > $3
            UNION ALL
            SELECT j.id, NULL FROM jobs j
            WHERE j.kind = 'video' AND j.state = 'failed' AND j.finished_at < $1 AND j.id > $3
            ORDER BY 1 LIMIT $4
            """
        var expired = ExpiredRecords()
        var after: Int64 = 0
        while true {
            let start = after
            let select: @Sendable (PostgresConnection) async throws -> (seen: [Int64], gone: [(Int64, String?)]) = {
                connection in
                let rows = try await connection.rows(
                    PostgresQuery(
                        unsafeSQL: candidates,
                        binds: Self.binds(cutoffMilliseconds, keepRecordsWithFiles, start, Int64(batchSize))),
                    logger
                ).map { (try $0.value(0, as: Int64.self), try $0.value(1, as: String?.self)) }
                guard !dryRun, !rows.isEmpty else { return (rows.map(\.0), rows) }
                // A row another node deleted meanwhile, or one retried since, is not this run's.
                let deleted = Set(
                    try await connection.rows(
                        """
                        DELETE FROM jobs WHERE id = ANY(\(rows.map(\.0)))
                            AND state IN ('succeeded', 'failed', 'cancelled') AND finished_at < \(cutoffMilliseconds)
                        RETURNING id
                        """, logger
                    ).map { try $0.value(0, as: Int64.self) })
                return (rows.map(\.0), rows.filter { deleted.contains($0.0) })
            }
            // A dry run only reads.
            let batch = dryRun ? try await read(select) : try await write(select)
            expired.records += batch.gone.count
            expired.files += batch.gone.compactMap(\.1)
            guard batch.seen.count == batchSize, let last = batch.seen.last else { break }
            after = last
        }
        return expired
    }

    /// Upload jobs that ended for good with an unfinished multipart upload in their resume state,
    /// of downloads whose file is on this node (the node whose workers ran them).
    public func abandonedUploads() async throws(StoreError) -> [(job: JobID, target: String, resumeState: String)] {
        let logger = logger
        return try await read { connection in
            try await connection.rows(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT j.id, u.target, j.resume_state FROM jobs j JOIN uploads u ON u.job_id = j.id
                        JOIN jobs d ON d.id = u.download_id
                        WHERE j.kind = 'upload' AND j.state IN ('failed', 'cancelled') AND j.resume_state IS NOT NULL
                            AND \(Self.fileIsHere("d.node"))
                        ORDER BY j.id
                        """), logger
            ).map { row in
                (
                    JobID(try row.value(0, as: Int64.self)), try row.value(1, as: String.self),
                    try row.value(2, as: String.self)
                )
            }
        }
    }

    public func deliveries(
        to targets: [String], since: Int64
    ) async throws(StoreError) -> [(job: JobID, target: String, location: String)] {
        guard !targets.isEmpty else { return [] }
        let logger = logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT j.id, u.target, j.result_location FROM jobs j JOIN uploads u ON u.job_id = j.id
                JOIN jobs d ON d.id = u.download_id
                WHERE j.kind = 'upload' AND j.state IN ('succeeded', 'cleaned') AND j.finished_at >= \(since)
                    AND j.result_location IS NOT NULL AND u.target = ANY(\(targets)::text[])
                    AND \(unescaped: Self.fileIsHere("d.node"))
                ORDER BY j.id
                """, logger
            ).map { row in
                (
                    JobID(try row.value(0, as: Int64.self)), try row.value(1, as: String.self),
                    try row.value(2, as: String.self)
                )
            }
        }
    }

    /// Forgets a finished upload's resume state once its multipart upload is gone from the
    /// server; a job retried since (its state cleared or replaced) is left alone.
    public func forgetAbandonedUpload(_ id: JobID, uploadID: String) async throws(StoreError) {
        let logger = logger
        try await write(jobID: id) { connection in
            try await connection.run(
                """
                UPDATE jobs SET resume_state = NULL
                WHERE id = \(id.rawValue) AND state IN ('failed', 'cancelled') AND strpos(resume_state, \(uploadID)) > 0
                """, logger)
        }
    }
}
