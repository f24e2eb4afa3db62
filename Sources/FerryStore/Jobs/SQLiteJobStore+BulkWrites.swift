import FerryCore
import Foundation
internal import GRDB

/// Multi-row statements for the batched paths: one statement per chunk instead of one per job.
/// Per-statement overhead (binding, stepping, building rows) costs more than SQLite's own work
/// for a single job, so a batch of 500 claims or outcomes is one round trip, not 500.
extension SQLiteJobStore {
    /// Rows per multi-row statement: 500 × 11 bound values stays far below SQLite's 32,766.
    static let bulkChunk = 500

    /// A prepared statement for multi-row SQL: cached for the sizes that recur (single jobs and
    /// full chunks), prepared afresh for the others so the cache cannot grow without bound.
    static func statement(_ db: Database, _ sql: String, rows: Int) throws -> Statement {
        rows == 1 || rows == bulkChunk ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
    }

    /// Inserts downloads that carry no idempotency key (nothing to look up first).
    static func insertDownloads(
        _ db: Database, _ requests: ArraySlice<DownloadRequest>, policy: RetryPolicy, now: Int64
    ) throws -> [Enqueued] {
        var enqueued: [Enqueued] = []
        enqueued.reserveCapacity(requests.count)
        for chunk in Array(requests).chunked(into: bulkChunk) {
            var arguments = StatementArguments()
            for request in chunk {
                arguments += [request.priority, request.maxAttempts ?? policy.maxAttempts, now, now, now]
            }
            let rows = Array(
                repeating: "('download', 'queued', NULL, ?, 0, ?, ?, ?, ?, 'create', NULL)", count: chunk.count)
            // AUTOINCREMENT hands out ascending ids in VALUES order; sorting pairs them back up.
            let insertJobs = try statement(
                db,
                """
                INSERT INTO jobs (kind, state, idempotency_key, priority, attempt, max_attempts, created_at,
                    updated_at, due_at, state_cause, state_reason)
                VALUES \(rows.joined(separator: ", ")) RETURNING id
                """,
                rows: chunk.count)
            let ids = try Int64.fetchAll(insertJobs, arguments: arguments).sorted()
            var details = StatementArguments()
            for (id, request) in zip(ids, chunk) {
                let spec = request.spec
                details += [
                    id, spec.url, spec.fileName, spec.expectedSize, spec.expectedSHA256,
                    try jsonArray(spec.uploadTargets), spec.deleteAfterUpload, spec.engine?.rawValue,
                ]
            }
            try statement(
                db,
                """
                INSERT INTO downloads (job_id, url, file_name, expected_size, expected_sha256, upload_targets,
                    delete_after_upload, engine)
                VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", "))
                """,
                rows: chunk.count
            ).execute(arguments: details)
            let date = Date(storeMilliseconds: now)
            for (id, request) in zip(ids, chunk) {
                let job = Job(
                    id: JobID(id), kind: .download, state: .queued, priority: request.priority,
                    maxAttempts: request.maxAttempts ?? policy.maxAttempts, createdAt: date, updatedAt: date,
                    dueAt: date, stateCause: "create")
                enqueued.append(Enqueued(job: job, created: true))
            }
        }
        return enqueued
    }

    /// Completes a batch of attempts with one UPDATE … FROM per chunk; throws `lease_lost` (and so
    /// rolls the whole batch back) when any lease no longer holds its job.
    static func completeAttempts(_ db: Database, _ completions: [JobCompletion], now: Int64) throws -> [Job] {
        var finished: [Job] = []
        finished.reserveCapacity(completions.count)
        for chunk in completions.chunked(into: bulkChunk) {
            var arguments = StatementArguments()
            for completion in chunk {
                let result = completion.result
                arguments += [
                    completion.lease.jobID.rawValue, completion.lease.owner.rawValue, completion.lease.attempt,
                    result.location, result.size, result.sha256.lowercased(), result.contentType,
                ]
            }
            arguments += [now, now]
            let values = Array(repeating: "(?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            let update = try statement(
                db,
                """
                WITH outcome(id, owner, attempt, location, size, sha256, content_type) AS (VALUES \(values))
                UPDATE jobs
                SET state = CASE jobs.kind WHEN 'video' THEN 'stored' ELSE 'succeeded' END,
                    state_cause = 'complete', state_reason = NULL, owner = NULL,
                    finished_at = max(?, jobs.updated_at), updated_at = max(?, jobs.updated_at),
                    result_location = outcome.location, result_size = outcome.size,
                    result_sha256 = outcome.sha256, result_content_type = outcome.content_type,
                    bytes_done = outcome.size, bytes_total = outcome.size
                FROM outcome
                WHERE jobs.id = outcome.id AND jobs.owner = outcome.owner AND jobs.attempt = outcome.attempt
                    AND jobs.state IN ('running', 'storing')
                RETURNING \(JobColumns.list)
                """,
                rows: chunk.count)
            let rows = try Row.fetchCursor(update, arguments: arguments)
            // A cursor decodes each row in place, without copying it first.
            var jobs: [Job] = []
            jobs.reserveCapacity(chunk.count)
            while let row = try rows.next() { jobs.append(try Job(row: row)) }
            if jobs.count != chunk.count {
                // Explain precisely which lease was lost; throwing rolls the batch back.
                let done = Set(jobs.map(\.id))
                for completion in chunk where !done.contains(completion.lease.jobID) {
                    try JobTransition.verify(
                        completion.lease, holds: try JobTransition.load(db, completion.lease.jobID))
                }
                throw StoreError(.leaseLost, "a job of the batch changed concurrently")
            }
            // Keep the caller's order.
            let byID = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0) })
            finished += chunk.map { byID[$0.lease.jobID]! }
        }
        return finished
    }
}
