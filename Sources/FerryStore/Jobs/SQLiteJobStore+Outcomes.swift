public import FerryCore
import Foundation
internal import GRDB

extension SQLiteJobStore {
    public func complete(_ completions: [JobCompletion]) async throws(StoreError) -> [Job] {
        guard !completions.isEmpty else { return [] }
        let now = nowMilliseconds
        let uploadPolicy = configuration.retryPolicies.upload
        for completion in completions {
            let sha = completion.result.sha256
            guard sha.count == 64, sha.allSatisfy(\.isHexDigit) else {
                throw StoreError(
                    .invalidInput, "job \(completion.lease.jobID): result SHA-256 '\(sha)' is not 64 hex digits",
                    jobID: completion.lease.jobID)
            }
        }
        return try await write { db in
            let statement = try db.cachedStatement(
                sql: """
                    UPDATE jobs
                    SET state = CASE kind WHEN 'video' THEN 'stored' ELSE 'succeeded' END,
                        state_cause = 'complete', state_reason = NULL, owner = NULL, finished_at = ?, updated_at = ?,
                        result_location = ?, result_size = ?, result_sha256 = ?, result_content_type = ?,
                        bytes_done = ?, bytes_total = ?
                    WHERE id = ? AND owner = ? AND attempt = ? AND state IN ('running', 'storing')
                    RETURNING *
                    """)
            var finished: [Job] = []
            finished.reserveCapacity(completions.count)
            for completion in completions {
                let result = completion.result
                let lease = completion.lease
                guard
                    let row = try Row.fetchOne(
                        statement,
                        arguments: [
                            now, now, result.location, result.size, result.sha256.lowercased(), result.contentType,
                            result.size, result.size, lease.jobID.rawValue, lease.owner.rawValue, lease.attempt,
                        ])
                else {
                    // Explain precisely why the compare-and-set found nothing.
                    try JobTransition.verify(lease, holds: try JobTransition.load(db, lease.jobID))
                    throw StoreError(.leaseLost, "job \(lease.jobID) changed concurrently", jobID: lease.jobID)
                }
                let job = try Job(row: row)
                if job.kind == .download {
                    try Self.createUploads(db, after: job, policy: uploadPolicy, now: now)
                }
                finished.append(job)
            }
            return finished
        }
    }

    /// Creates one upload job per target of a download that just succeeded, in its transaction,
    /// so a finished download can never lack its follow-up work.
    static func createUploads(_ db: Database, after download: Job, policy: RetryPolicy, now: Int64) throws {
        let targets = try String.fetchAll(
            db.cachedStatement(
                sql: "SELECT value FROM downloads, json_each(downloads.upload_targets) WHERE downloads.job_id = ?"),
            arguments: [download.id.rawValue])
        for target in targets {
            let upload = try insertJob(
                db, kind: .upload, key: nil, priority: download.priority, maxAttempts: policy.maxAttempts,
                reason: "download \(download.id) succeeded", now: now)
            try db.cachedStatement(sql: "INSERT INTO uploads (job_id, download_id, target) VALUES (?, ?, ?)")
                .execute(arguments: [upload.id.rawValue, download.id.rawValue, target])
        }
    }

    public func fail(_ lease: JobLease, with failure: JobFailure) async throws(StoreError) -> FailureOutcome {
        let now = nowMilliseconds
        let policies = configuration.retryPolicies
        return try await write(jobID: lease.jobID) { db in
            let job = try JobTransition.load(db, lease.jobID)
            try JobTransition.verify(lease, holds: job)
            var generator = SystemRandomNumberGenerator()
            let decision = policies[job.kind].decide(
                afterAttempt: job.attempt, maxAttempts: job.maxAttempts, failure: failure, using: &generator)
            let errorColumns: [(column: String, value: (any DatabaseValueConvertible)?)] = [
                ("last_error", failure.message), ("last_error_code", failure.code),
                ("last_error_class", failure.failureClass.rawValue),
            ]
            switch decision {
            case .retry(let delay):
                let move = JobTransition(
                    command: .scheduleRetry,
                    reason: "attempt \(job.attempt) of \(job.maxAttempts) failed (\(failure.code)); retrying in \(Self.describe(delay))",
                    lease: lease,
                    assignments: errorColumns + [("due_at", now + delay.inMilliseconds)])
                return .retryScheduled(try move.apply(db, to: job, now: now))
            case .giveUp(let why):
                let move = JobTransition(
                    command: .fail, reason: "\(failure.code): \(why)", lease: lease, assignments: errorColumns)
                return .failed(try move.apply(db, to: job, now: now))
            }
        }
    }

    static func describe(_ delay: Duration) -> String {
        let seconds = delay.inSeconds
        return seconds < 10 ? String(format: "%.1f s", seconds) : "\(Int(seconds.rounded())) s"
    }
}
