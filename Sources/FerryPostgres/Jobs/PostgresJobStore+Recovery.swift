public import FerryCore
import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore {
    public func requeueJobs(ownedBy owner: WorkerID, reason: String) async throws(StoreError) -> [RequeuedJob] {
        let now = nowMilliseconds
        let logger = logger
        return try await write { connection in
            try await Self.releaseAll(connection, ownedBy: owner, reason: reason, now: now, logger)
        }
    }

    /// A node recovers only its own earlier incarnations (other nodes' work is theirs); a store
    /// without a node identity (one node, or a tool) puts back every running job.
    public func recoverAfterRestart(reason: String) async throws(StoreError) -> [RequeuedJob] {
        if let node = configuration.node { return try await recoverEarlierIncarnations(of: node, reason: reason) }
        let now = nowMilliseconds
        let logger = logger
        return try await write { connection in
            let released = try await Self.releaseAll(connection, ownedBy: nil, reason: reason, now: now, logger)
            // Workers of the previous run died with their supervisor; record it for the history.
            try await connection.run(
                """
                UPDATE workers SET exited_at = GREATEST(\(now), started_at), exit_reason = 'supervisor_restart'
                WHERE exited_at IS NULL
                """, logger)
            return released
        }
    }

    public func release(_ lease: JobLease, reason: String, resumeState: String?) async throws(StoreError) -> Job {
        let now = nowMilliseconds
        let logger = logger
        return try await write(jobID: lease.jobID) { connection in
            try await Self.releaseAttempt(connection, lease, reason: reason, resumeState: resumeState, now: now, logger)
        }
    }

    /// Puts a job stopped on request back in the connection's transaction; the attempt is given back.
    static func releaseAttempt(
        _ connection: PostgresConnection, _ lease: JobLease, reason: String, resumeState: String?, now: Int64,
        _ logger: Logger
    ) async throws -> Job {
        let job = try await PostgresTransition.load(connection, lease.jobID, logger)
        var assignments: [(column: String, value: Value)] = [("due_at", now), ("max_attempts", job.maxAttempts + 1)]
        if let resumeState { assignments.append(("resume_state", resumeState)) }
        let move = PostgresTransition(command: .requeue, reason: reason, lease: lease, assignments: assignments)
        return try await move.apply(connection, to: job, now: now, logger)
    }

    /// Puts every running job of `owner` (of anyone when nil) back in the queue, locked in id order.
    static func releaseAll(
        _ connection: PostgresConnection, ownedBy owner: WorkerID?, reason: String, now: Int64, _ logger: Logger
    ) async throws -> [RequeuedJob] {
        let rows = try await connection.rows(
            """
            SELECT id FROM jobs WHERE state IN ('running', 'storing')
                AND (\(owner?.rawValue)::text IS NULL OR owner = \(owner?.rawValue)::text)
            ORDER BY id FOR UPDATE
            """, logger)
        var released: [RequeuedJob] = []
        for row in rows {
            released.append(
                try await release(connection, JobID(try row.value(0, as: Int64.self)), reason: reason, now: now, logger)
            )
        }
        return released
    }

    /// Puts one running job back in the queue, or fails it when that was its last attempt.
    static func release(
        _ connection: PostgresConnection, _ id: JobID, reason: String, now: Int64, _ logger: Logger
    )
        async throws -> RequeuedJob
    {
        let job = try await PostgresTransition.load(connection, id, logger)
        guard let owner = job.owner else {
            throw StoreError(.leaseLost, "job \(id) is no longer held by anyone", jobID: id)
        }
        let transition: PostgresTransition
        if job.attempt >= job.maxAttempts {
            transition = PostgresTransition(
                command: .fail, reason: "\(reason); that was its last attempt",
                assignments: [
                    ("last_error", "\(reason) during attempt \(job.attempt), the last of \(job.maxAttempts)"),
                    ("last_error_code", "owner_lost"), ("last_error_class", JobFailure.Class.retryable.rawValue),
                ])
        } else {
            transition = PostgresTransition(command: .requeue, reason: reason, assignments: [("due_at", now)])
        }
        return RequeuedJob(job: try await transition.apply(connection, to: job, now: now, logger), previousOwner: owner)
    }
}
