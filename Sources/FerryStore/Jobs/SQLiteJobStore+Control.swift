public import FerryCore
import Foundation
internal import GRDB

extension SQLiteJobStore {
    public func cancel(_ id: JobID, reason: String) async throws(StoreError) -> Job {
        try await move(id, .cancel, reason: reason)
    }

    public func pause(_ id: JobID, reason: String) async throws(StoreError) -> Job {
        try await move(id, .pause, reason: reason)
    }

    public func resume(_ id: JobID, reason: String) async throws(StoreError) -> Job {
        try await move(id, .resume, reason: reason) { _, now in [("due_at", now)] }
    }

    public func retry(_ id: JobID, reason: String) async throws(StoreError) -> Job {
        let policies = configuration.retryPolicies
        // A manual retry grants a fresh set of attempts; attempt numbers keep counting up so that
        // every attempt's temporary files stay distinct.
        return try await move(id, .retry, reason: reason) { job, now in
            // Earlier attempts' resume state (and their count of bad content) starts over too.
            [
                ("due_at", now), ("max_attempts", job.attempt + policies[job.kind].maxAttempts),
                ("resume_state", nil),
            ]
        }
    }

    public func markCleaned(_ id: JobID, reason: String) async throws(StoreError) -> Job {
        try await move(id, .markCleaned, reason: reason) { _, now in [("cleaned_at", now)] }
    }

    /// Applies one operator command to one job.
    private func move(
        _ id: JobID,
        _ command: JobCommand,
        reason: String,
        extra: @escaping @Sendable (Job, Int64) -> [(column: String, value: (any DatabaseValueConvertible)?)] = {
            _, _ in []
        }
    ) async throws(StoreError) -> Job {
        let now = nowMilliseconds
        return try await write(jobID: id) { db in
            let job = try JobTransition.load(db, id)
            let transition = JobTransition(command: command, reason: reason, assignments: extra(job, now))
            return try transition.apply(db, to: job, now: now)
        }
    }
}
