public import FerryCore
import Foundation
internal import GRDB

extension SQLiteJobStore {
    public func requeueJobs(ownedBy owner: WorkerID, reason: String) async throws(StoreError) -> [RequeuedJob] {
        let now = nowMilliseconds
        return try await write { db in
            let ids = try Int64.fetchAll(
                db.cachedStatement(sql: "\(Self.runningJobs) AND owner = ? ORDER BY id"), arguments: [owner.rawValue])
            return try ids.map { id in try Self.release(db, JobID(id), reason: reason, now: now) }
        }
    }

    public func recoverAfterRestart(reason: String) async throws(StoreError) -> [RequeuedJob] {
        let now = nowMilliseconds
        return try await write { db in
            let ids = try Int64.fetchAll(db, sql: "\(Self.runningJobs) ORDER BY id")
            let released = try ids.map { id in try Self.release(db, JobID(id), reason: reason, now: now) }
            // Workers of the previous run died with their supervisor; record it for the history.
            try db.execute(
                sql: """
                    UPDATE workers SET exited_at = MAX(?, started_at), exit_reason = 'supervisor_restart'
                    WHERE exited_at IS NULL
                    """,
                arguments: [now])
            return released
        }
    }

    public func release(_ lease: JobLease, reason: String, resumeState: String?) async throws(StoreError) -> Job {
        let now = nowMilliseconds
        return try await write(jobID: lease.jobID) { db in
            try Self.releaseAttempt(db, lease, reason: reason, resumeState: resumeState, now: now)
        }
    }

    /// Puts a job stopped on request back in `db`'s transaction; the attempt is given back.
    static func releaseAttempt(
        _ db: Database, _ lease: JobLease, reason: String, resumeState: String?, now: Int64
    ) throws -> Job {
        let job = try JobTransition.load(db, lease.jobID)
        var assignments: [(column: String, value: (any DatabaseValueConvertible)?)] = [
            ("due_at", now), ("max_attempts", job.maxAttempts + 1),
        ]
        if let resumeState { assignments.append(("resume_state", resumeState)) }
        let move = JobTransition(command: .requeue, reason: reason, lease: lease, assignments: assignments)
        return try move.apply(db, to: job, now: now)
    }

    /// Running jobs, found through the `jobs_queue` index (running jobs are few).
    static let runningJobs = """
        SELECT id FROM jobs WHERE kind IN ('download', 'upload', 'video') AND state IN ('running', 'storing')
        """

    /// Puts one running job back in the queue, or fails it when that was its last attempt.
    static func release(_ db: Database, _ id: JobID, reason: String, now: Int64) throws -> RequeuedJob {
        let job = try JobTransition.load(db, id)
        guard let owner = job.owner else {
            throw StoreError(.leaseLost, "job \(id) is no longer held by anyone", jobID: id)
        }
        let transition: JobTransition
        if job.attempt >= job.maxAttempts {
            transition = JobTransition(
                command: .fail, reason: "\(reason); that was its last attempt",
                assignments: [
                    ("last_error", "\(reason) during attempt \(job.attempt), the last of \(job.maxAttempts)"),
                    ("last_error_code", "owner_lost"), ("last_error_class", JobFailure.Class.retryable.rawValue),
                ])
        } else {
            transition = JobTransition(command: .requeue, reason: reason, assignments: [("due_at", now)])
        }
        return RequeuedJob(job: try transition.apply(db, to: job, now: now), previousOwner: owner)
    }
}
