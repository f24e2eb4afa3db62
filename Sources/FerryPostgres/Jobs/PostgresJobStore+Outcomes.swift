public import FerryCore
import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore {
    public func complete(_ completions: [JobCompletion]) async throws(StoreError) -> [Job] {
        guard !completions.isEmpty else { return [] }
        let now = nowMilliseconds
        let uploadPolicy = configuration.retryPolicies.upload
        if let refusal = completions.lazy.compactMap(JobCompletion.malformedResult).first { throw refusal }
        let logger = logger
        return try await write { connection in
            try await Self.completeWithFollowUps(connection, completions, uploadPolicy: uploadPolicy, now: now, logger)
        }
    }

    /// Completes attempts and creates the follow-up uploads of the downloads among them, in the
    /// connection's transaction.
    static func completeWithFollowUps(
        _ connection: PostgresConnection, _ completions: [JobCompletion], uploadPolicy: RetryPolicy, now: Int64,
        _ logger: Logger
    ) async throws -> [Job] {
        let (finished, withTargets) = try await completeAttempts(connection, completions, now: now, logger)
        try await createUploads(
            connection, after: finished.filter { withTargets.contains($0.id) }, policy: uploadPolicy, now: now, logger)
        return finished
    }

    /// Completes a batch of attempts with one UPDATE … FROM (VALUES …) per chunk; throws
    /// `lease_lost` (and so rolls the whole batch back) when any lease no longer holds its job.
    static func completeAttempts(
        _ connection: PostgresConnection, _ completions: [JobCompletion], now: Int64, _ logger: Logger
    ) async throws -> (jobs: [Job], withTargets: Set<JobID>) {
        var finished: [Job] = []
        var withTargets: Set<JobID> = []
        finished.reserveCapacity(completions.count)
        for chunk in completions.chunked(into: 500) {
            var binds = PostgresBindings()
            let values = chunk.map { completion in
                let result = completion.result
                let row: [Value] = [
                    completion.lease.jobID.rawValue, completion.lease.owner.rawValue, Int64(completion.lease.attempt),
                    result.location, result.size, result.sha256.lowercased(), result.contentType,
                ]
                let p = row.map { binds.placeholder($0) }
                return
                    "(\(p[0])::bigint, \(p[1])::text, \(p[2])::integer, \(p[3])::text, \(p[4])::bigint, \(p[5])::text, \(p[6])::text)"
            }
            // Rows are locked in id order, so two nodes completing overlapping batches cannot deadlock.
            let rows = try await connection.rows(
                PostgresQuery(
                    unsafeSQL: """
                        WITH outcome(id, owner, attempt, location, size, sha256, content_type) AS (
                            VALUES \(values.joined(separator: ", "))),
                        locked AS (SELECT jobs.id FROM jobs JOIN outcome ON outcome.id = jobs.id ORDER BY jobs.id FOR UPDATE OF jobs)
                        UPDATE jobs
                        SET state = CASE jobs.kind WHEN 'video' THEN 'stored' ELSE 'succeeded' END,
                            state_cause = 'complete', state_reason = NULL, owner = NULL, finished_at = \(now),
                            updated_at = \(now), result_location = outcome.location, result_size = outcome.size,
                            result_sha256 = outcome.sha256, result_content_type = outcome.content_type,
                            bytes_done = outcome.size, bytes_total = outcome.size,
                            -- The finished file lives where the worker that wrote it runs.
                            node = CASE WHEN jobs.kind = 'upload' THEN NULL
                                ELSE (SELECT w.node FROM workers w WHERE w.id = jobs.owner) END
                        FROM outcome
                        WHERE jobs.id = outcome.id AND jobs.owner = outcome.owner AND jobs.attempt = outcome.attempt
                            AND jobs.state IN ('running', 'storing') AND jobs.id IN (SELECT id FROM locked)
                        RETURNING \(JobColumns.qualified(by: "jobs")),
                            -- Whether follow-up uploads must be made: most downloads have no targets.
                            EXISTS (SELECT 1 FROM downloads d WHERE d.job_id = jobs.id AND d.upload_targets <> '[]')
                        """, binds: binds), logger)
            let jobs = try rows.map { row in
                let job = try Job(postgres: row)
                if try row.value(JobColumns.names.count, as: Bool.self) { withTargets.insert(job.id) }
                return job
            }
            if jobs.count != chunk.count {
                // Explain precisely which lease was lost; throwing rolls the batch back.
                let done = Set(jobs.map(\.id))
                for completion in chunk where !done.contains(completion.lease.jobID) {
                    try PostgresTransition.verify(
                        completion.lease,
                        holds: try await PostgresTransition.load(
                            connection, completion.lease.jobID, logger, lock: false))
                }
                throw StoreError(.leaseLost, "a job of the batch changed concurrently")
            }
            let byID = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0) })
            finished += chunk.map { byID[$0.lease.jobID]! }
        }
        return (finished, withTargets)
    }

    /// Creates one upload job per target of downloads that just succeeded, in their transaction,
    /// so a finished download can never lack its follow-up work.
    static func createUploads(
        _ connection: PostgresConnection, after downloads: [Job], policy: RetryPolicy, now: Int64, _ logger: Logger
    ) async throws {
        guard !downloads.isEmpty else { return }
        let byID = Dictionary(uniqueKeysWithValues: downloads.map { ($0.id, $0) })
        let rows = try await connection.rows(
            """
            SELECT d.job_id, t.target FROM downloads d,
                jsonb_array_elements_text(d.upload_targets::jsonb) WITH ORDINALITY AS t(target, position)
            WHERE d.job_id = ANY(\(downloads.map(\.id.rawValue))) AND d.upload_targets <> '[]'
                -- A download fetched again (its file had gone) keeps the uploads it has.
                AND NOT EXISTS (SELECT 1 FROM uploads existing
                    WHERE existing.download_id = d.job_id AND existing.target = t.target)
            ORDER BY d.job_id, t.position
            """, logger)
        for row in rows {
            let download = byID[JobID(try row.value(0, as: Int64.self))]!
            let target = try row.value(1, as: String.self)
            let upload = try await insertJobs(
                connection, kind: .upload,
                rows: [(nil, download.priority, policy.maxAttempts, "download \(download.id) succeeded")], now: now,
                logger)[0]
            try await connection.run(
                "INSERT INTO uploads (job_id, download_id, target) VALUES (\(upload.id.rawValue), \(download.id.rawValue), \(target))",
                logger)
        }
    }

    public func fail(
        _ lease: JobLease, with failure: JobFailure, resumeState: String?
    ) async throws(StoreError)
        -> FailureOutcome
    {
        let now = nowMilliseconds
        let policies = configuration.retryPolicies
        let logger = logger
        return try await write(jobID: lease.jobID) { connection in
            try await Self.failAttempt(
                connection, lease, with: failure, resumeState: resumeState, policies: policies, now: now, logger)
        }
    }

    /// Ends an attempt as failed in the connection's transaction: a retry with backoff, or the job fails.
    static func failAttempt(
        _ connection: PostgresConnection, _ lease: JobLease, with failure: JobFailure, resumeState: String?,
        policies: RetryPolicies, now: Int64, _ logger: Logger
    ) async throws -> FailureOutcome {
        let job = try await PostgresTransition.load(connection, lease.jobID, logger)
        try PostgresTransition.verify(lease, holds: job)
        var generator = SystemRandomNumberGenerator()
        // A manual retry grants a fresh set of attempts, and its backoff starts over.
        let before =
            try await connection.row(
                "SELECT attempt FROM job_events WHERE job_id = \(job.id.rawValue) AND cause = 'retry' ORDER BY id DESC LIMIT 1",
                logger)?.value(0, as: Int.self) ?? 0
        let decision = policies[job.kind].decide(
            afterAttempt: job.attempt - before, maxAttempts: job.maxAttempts - before, failure: failure,
            using: &generator)
        var errorColumns: [(column: String, value: Value)] = [
            ("last_error", failure.message), ("last_error_code", failure.code),
            ("last_error_class", failure.failureClass.rawValue),
        ]
        if let resumeState { errorColumns.append(("resume_state", resumeState)) }
        switch decision {
        case .retry(let delay):
            let move = PostgresTransition(
                command: .scheduleRetry,
                reason:
                    "attempt \(job.attempt) of \(job.maxAttempts) failed (\(failure.code)); retrying in \(RetryPolicy.describe(delay))",
                lease: lease, assignments: errorColumns + [("due_at", now + delay.inMilliseconds)])
            return .retryScheduled(try await move.apply(connection, to: job, now: now, logger))
        case .giveUp(let why):
            let move = PostgresTransition(
                command: .fail, reason: "\(failure.code): \(why)", lease: lease, assignments: errorColumns)
            return .failed(try await move.apply(connection, to: job, now: now, logger))
        }
    }
}
