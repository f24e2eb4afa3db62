public import FerryCore
import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore {
    public func complete(_ completions: [JobCompletion]) async throws(StoreError) -> [Job] {
        guard !completions.isEmpty else { return [] }
        let now = nowMilliseconds
        let followUps = configuration.followUps
        if let refusal = completions.lazy.compactMap(JobCompletion.malformedResult).first { throw refusal }
        let logger = logger
        if completions.count == 1 {
            // Most completions have no uploads to create: one statement, its own transaction, no
            // BEGIN and COMMIT round trips. It completes nothing when the job has upload targets
            // (or the lease is lost); the transaction below then does the work, or says why not.
            let completion = completions[0]
            let done = try await single(jobID: completion.lease.jobID) { connection in
                try await Self.completeAlone(connection, completion, now: now, logger)
            }
            if let done { return [done] }
        }
        return try await write { connection in
            try await Self.completeWithFollowUps(connection, completions, followUps: followUps, now: now, logger)
        }
    }

    /// Completes attempts and creates the follow-up uploads of the downloads among them, in the
    /// connection's transaction.
    static func completeWithFollowUps(
        _ connection: PostgresConnection, _ completions: [JobCompletion], followUps: FollowUpUploads, now: Int64,
        _ logger: Logger
    ) async throws -> [Job] {
        let (finished, withTargets) = try await completeAttempts(connection, completions, now: now, logger)
        try await createUploads(
            connection, after: finished.filter { withTargets.contains($0.id) }, followUps: followUps, now: now, logger)
        return finished
    }

    /// Completes one attempt whose job has no upload targets, as its own transaction; nil when it
    /// completed nothing (the job has targets, or the lease no longer holds it).
    static func completeAlone(
        _ connection: PostgresConnection, _ completion: JobCompletion, now: Int64, _ logger: Logger
    ) async throws -> Job? {
        try await connection.rows(CompleteAlone.self, scalars(completion, now: now), logger).first.map {
            try Job(postgres: $0)
        }
    }

    /// The parameters of ``CompleteAlone`` and ``CompleteOne``.
    static func scalars(_ completion: JobCompletion, now: Int64) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(completion.lease.jobID.rawValue)
        binds.append(completion.lease.owner.rawValue)
        binds.append(Int64(completion.lease.attempt))
        binds.append(completion.result.location)
        binds.append(completion.result.size)
        binds.append(completion.result.sha256.lowercased())
        _ = binds.placeholder(completion.result.contentType)
        binds.append(now)
        return binds
    }

    /// The parameters of ``CompleteAttempts`` for `chunk`.
    static func arrays(_ chunk: ArraySlice<JobCompletion>, now: Int64) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(chunk.map(\.lease.jobID.rawValue))
        binds.append(chunk.map(\.lease.owner.rawValue))
        binds.append(chunk.map { Int64($0.lease.attempt) })
        binds.append(chunk.map(\.result.location))
        binds.append(chunk.map(\.result.size))
        binds.append(chunk.map { $0.result.sha256.lowercased() })
        binds.append(NullableArray(chunk.map(\.result.contentType)))
        binds.append(now)
        return binds
    }

    /// Completes a batch of attempts with one prepared UPDATE per chunk; throws `lease_lost` (and
    /// so rolls the whole batch back) when any lease no longer holds its job.
    static func completeAttempts(
        _ connection: PostgresConnection, _ completions: [JobCompletion], now: Int64, _ logger: Logger
    ) async throws -> (jobs: [Job], withTargets: Set<JobID>) {
        var finished: [Job] = []
        var withTargets: Set<JobID> = []
        finished.reserveCapacity(completions.count)
        for chunk in completions.chunked(into: 500) {
            // One outcome (the supervisor's group commit, one job at a time) takes the scalar
            // statement, planned once per connection; the arrays' is planned at every call.
            let rows =
                chunk.count == 1
                ? try await connection.rows(CompleteOne.self, scalars(chunk[chunk.startIndex], now: now), logger)
                : try await connection.rows(CompleteAttempts.self, arrays(chunk, now: now), logger)
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

    /// The assignments that end an attempt with its result (the same for a batch and for one job),
    /// each argument an SQL expression.
    static func succeeded(
        location: String, size: String, sha256: String, contentType: String, now: String
    )
        -> String
    {
        """
        state = CASE jobs.kind WHEN 'video' THEN 'stored' ELSE 'succeeded' END,
            state_cause = 'complete', state_reason = NULL, owner = NULL, finished_at = \(now),
            updated_at = \(now), result_location = \(location), result_size = \(size),
            result_sha256 = \(sha256), result_content_type = \(contentType),
            bytes_done = \(size), bytes_total = \(size),
            -- The finished file lives where the worker that wrote it runs.
            node = CASE WHEN jobs.kind = 'upload' THEN NULL
                ELSE (SELECT w.node FROM workers w WHERE w.id = jobs.owner) END
        """
    }

    /// Attempts' outcomes: one array per column, $8 now. Rows are locked in id order before any
    /// is changed, so two nodes completing overlapping batches cannot deadlock.
    ///
    /// Each job must be found by its id, once, whatever the statistics say: a prepared statement's
    /// generic plan guesses ten rows for every array, and a queue's table, when autovacuum
    /// analyzes it, is mostly finished jobs (every owner NULL, next to none running). So no
    /// condition here is one on `jobs` alone, which the planner would estimate from those
    /// statistics: the state is tested together with the outcome's row, the owner with `IS
    /// TRUE` (a plain equality opens the partial index `jobs_by_owner`), and the upload-target
    /// test on the outcome's id. With either as a condition on `jobs`, the plan after ANALYZE
    /// scanned `jobs` (or `jobs_by_owner`) and compared each running job with every outcome, a
    /// nested loop of 500 × 500 rows per batch (3.8× slower completions; `PostgresPlanTests`).
    /// The locks are a one-time condition, not a join, for the same reason.
    enum CompleteAttempts: StatementShape {
        static let sql = """
            WITH outcome AS (
                SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
                    $7::text[]) AS o(id, owner, attempt, location, size, sha256, content_type)),
            locked AS (SELECT id FROM jobs WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE),
            -- Most downloads have no upload targets; those that do need the follow-up uploads.
            targets AS (SELECT job_id FROM downloads WHERE job_id = ANY($1::bigint[]) AND upload_targets <> '[]')
            UPDATE jobs
            SET \(succeeded(location: "outcome.location", size: "outcome.size", sha256: "outcome.sha256",
                contentType: "outcome.content_type", now: "$8"))
            FROM outcome
            WHERE jobs.id = outcome.id AND (jobs.owner = outcome.owner) IS TRUE AND jobs.attempt = outcome.attempt
                AND (jobs.state IN ('running', 'storing') AND outcome.id = jobs.id) IS TRUE
                AND (SELECT count(*) FROM locked) >= 0
            RETURNING \(JobColumns.qualified(by: "jobs")), jobs.id IN (SELECT job_id FROM targets)
            """
    }

    /// One attempt's outcome in scalars ($1 id, $2 owner, $3 attempt, $4 location, $5 size,
    /// $6 SHA-256, $7 content type, $8 now). Planned once per connection: with a batch's arrays
    /// the planner sizes every call afresh (a custom plan each time, 380–460 µs a job one at a
    /// time, BENCHMARKS.md), while a lookup by one id has one plan, the primary key, whatever the
    /// parameters; the job is found by ``heldByLease``. `alone`: for a job without upload targets
    /// only (its own transaction: the follow-up uploads need one of their own); otherwise the last
    /// column says whether the job has targets, as ``CompleteAttempts``' does.
    static func completeOne(alone: Bool) -> String {
        let targets = "EXISTS (SELECT 1 FROM downloads d WHERE d.job_id = $1::bigint AND d.upload_targets <> '[]')"
        return """
            UPDATE jobs
            SET \(succeeded(location: "$4::text", size: "$5::bigint", sha256: "$6::text",
                contentType: "$7::text", now: "$8::bigint"))
            WHERE \(heldByLease)\(alone ? " AND NOT \(targets)" : "")
            RETURNING \(JobColumns.qualified(by: "jobs"))\(alone ? "" : ", \(targets)")
            """
    }

    /// The one-job statements' condition: the job $1 is still running under the lease of owner
    /// $2 and attempt $3. The owner and state are tested with `IS TRUE`, so that no index but the
    /// primary key can look cheaper.
    static let heldByLease = """
        id = $1::bigint AND (owner = $2::text) IS TRUE AND attempt = $3::bigint
            AND (state IN ('running', 'storing')) IS TRUE
        """

    /// A job's completion as its own transaction, when it has no upload targets.
    enum CompleteAlone: StatementShape {
        static let sql = completeOne(alone: true)
    }

    /// One completion inside a transaction, with the targets flag (``completeAttempts``).
    enum CompleteOne: StatementShape {
        static let sql = completeOne(alone: false)
    }

    /// Creates one upload job per target of downloads that just succeeded, in their transaction,
    /// so a finished download can never lack its follow-up work: one prepared statement for them
    /// all. An upload to a serial target gets the target as its lane.
    static func createUploads(
        _ connection: PostgresConnection, after downloads: [Job], followUps: FollowUpUploads, now: Int64,
        _ logger: Logger
    ) async throws {
        guard !downloads.isEmpty else { return }
        var binds = PostgresBindings()
        binds.append(downloads.map(\.id.rawValue))
        binds.append(Int64(followUps.policy.maxAttempts))
        binds.append(now)
        binds.append(followUps.serialTargets.sorted())
        _ = try await connection.rows(CreateUploads.self, binds, logger)
    }

    /// $1 the downloads, $2 the uploads' attempts, $3 now, $4 the serial targets. Identity values are handed out in
    /// `ord` order, and `row_number()` over them pairs each new job with its target.
    enum CreateUploads: StatementShape {
        static var sql: String {
            """
            WITH targets AS (
                SELECT d.job_id AS download_id, j.priority, t.target,
                    row_number() OVER (ORDER BY d.job_id, t.position) AS ord
                FROM downloads d JOIN jobs j ON j.id = d.job_id,
                    jsonb_array_elements_text(d.upload_targets::jsonb) WITH ORDINALITY AS t(target, position)
                WHERE d.job_id = ANY($1::bigint[]) AND d.upload_targets <> '[]'
                    -- A download fetched again (its file had gone) keeps the uploads it has.
                    AND NOT EXISTS (SELECT 1 FROM uploads existing
                        WHERE existing.download_id = d.job_id AND existing.target = t.target)),
            created AS (
                INSERT INTO jobs (kind, state, priority, attempt, max_attempts, created_at, updated_at, due_at,
                    state_cause, state_reason, lane)
                SELECT 'upload', '\(JobLifecycle.upload.initialState.rawValue)', priority, 0, $2, $3, $3, $3,
                    'create', 'download ' || download_id || ' succeeded',
                    CASE WHEN target = ANY($4::text[]) THEN target END
                FROM targets ORDER BY ord
                RETURNING id),
            numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS ord FROM created)
            INSERT INTO uploads (job_id, download_id, target)
            SELECT numbered.id, targets.download_id, targets.target FROM numbered JOIN targets USING (ord)
            """
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
