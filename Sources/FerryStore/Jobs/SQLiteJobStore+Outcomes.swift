public import FerryCore
import Foundation
internal import GRDB

extension SQLiteJobStore {
    public func complete(_ completions: [JobCompletion]) async throws(StoreError) -> [Job] {
        guard !completions.isEmpty else { return [] }
        let now = nowMilliseconds
        let followUps = configuration.followUps
        if let refusal = completions.lazy.compactMap(JobCompletion.malformedResult).first { throw refusal }
        return try await write { db in
            try Self.completeWithFollowUps(db, completions, followUps: followUps, now: now)
        }
    }

    /// Completes attempts and creates the follow-up uploads of the downloads among them, in
    /// `db`'s transaction.
    static func completeWithFollowUps(
        _ db: Database, _ completions: [JobCompletion], followUps: FollowUpUploads, now: Int64
    ) throws -> [Job] {
        let finished = try completeAttempts(db, completions, now: now)
        try createUploads(db, after: finished.filter { $0.kind == .download }, followUps: followUps, now: now)
        return finished
    }

    /// Creates one upload job per target of downloads that just succeeded, in their transaction,
    /// so a finished download can never lack its follow-up work. An upload to a serial target
    /// gets the target as its lane.
    static func createUploads(_ db: Database, after downloads: [Job], followUps: FollowUpUploads, now: Int64) throws {
        guard !downloads.isEmpty else { return }
        let byID = Dictionary(uniqueKeysWithValues: downloads.map { ($0.id, $0) })
        // One query per chunk finds the few downloads that have targets; most have none.
        for chunk in downloads.map(\.id.rawValue).chunked(into: 500) {
            let placeholders = chunk.map { _ in "?" }.joined(separator: ", ")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT downloads.job_id, json_each.value FROM downloads, json_each(downloads.upload_targets)
                    WHERE downloads.job_id IN (\(placeholders)) AND downloads.upload_targets <> '[]'
                        -- A download fetched again (its file had gone) keeps the uploads it has.
                        AND NOT EXISTS (SELECT 1 FROM uploads existing
                            WHERE existing.download_id = downloads.job_id AND existing.target = json_each.value)
                    ORDER BY downloads.job_id, json_each.key
                    """,
                arguments: StatementArguments(chunk))
            for row in rows {
                let download = byID[JobID(row[0] as Int64)]!
                let target: String = row[1]
                let upload = try insertJob(
                    db, kind: .upload, key: nil, priority: download.priority,
                    maxAttempts: followUps.policy.maxAttempts, reason: "download \(download.id) succeeded", now: now,
                    lane: followUps.lane(of: target))
                try db.cachedStatement(sql: "INSERT INTO uploads (job_id, download_id, target) VALUES (?, ?, ?)")
                    .execute(arguments: [upload.id.rawValue, download.id.rawValue, target])
            }
        }
    }

    public func fail(
        _ lease: JobLease, with failure: JobFailure, resumeState: String?
    ) async throws(StoreError) -> FailureOutcome {
        let now = nowMilliseconds
        let policies = configuration.retryPolicies
        return try await write(jobID: lease.jobID) { db in
            try Self.failAttempt(db, lease, with: failure, resumeState: resumeState, policies: policies, now: now)
        }
    }

    /// Ends an attempt as failed in `db`'s transaction: a retry with backoff, or the job fails.
    static func failAttempt(
        _ db: Database, _ lease: JobLease, with failure: JobFailure, resumeState: String?,
        policies: RetryPolicies, now: Int64
    ) throws -> FailureOutcome {
        let job = try JobTransition.load(db, lease.jobID)
        try JobTransition.verify(lease, holds: job)
        var generator = SystemRandomNumberGenerator()
        // A manual retry grants a fresh set of attempts, and its backoff starts over: the delay
        // follows the attempt's number within the current set, not since the job was created.
        let before = try attemptsBeforeManualRetry(db, job.id)
        let decision = policies[job.kind].decide(
            afterAttempt: job.attempt - before, maxAttempts: job.maxAttempts - before, failure: failure,
            using: &generator)
        var errorColumns: [(column: String, value: (any DatabaseValueConvertible)?)] = [
            ("last_error", failure.message), ("last_error_code", failure.code),
            ("last_error_class", failure.failureClass.rawValue),
        ]
        if let resumeState { errorColumns.append(("resume_state", resumeState)) }
        switch decision {
        case .retry(let delay):
            let move = JobTransition(
                command: .scheduleRetry,
                reason:
                    "attempt \(job.attempt) of \(job.maxAttempts) failed (\(failure.code)); retrying in \(RetryPolicy.describe(delay))",
                lease: lease,
                assignments: errorColumns + [("due_at", now + delay.inMilliseconds)])
            return .retryScheduled(try move.apply(db, to: job, now: now))
        case .giveUp(let why):
            let move = JobTransition(
                command: .fail, reason: "\(failure.code): \(why)", lease: lease, assignments: errorColumns)
            return .failed(try move.apply(db, to: job, now: now))
        }
    }

    /// The attempts a job had used when an operator last granted it a fresh set (0 if never):
    /// the event log records the attempt number with every move, the retry command's included.
    static func attemptsBeforeManualRetry(_ db: Database, _ id: JobID) throws -> Int {
        try Int.fetchOne(
            db.cachedStatement(
                sql: "SELECT attempt FROM job_events WHERE job_id = ? AND cause = 'retry' ORDER BY id DESC LIMIT 1"),
            arguments: [id.rawValue]) ?? 0
    }
}
