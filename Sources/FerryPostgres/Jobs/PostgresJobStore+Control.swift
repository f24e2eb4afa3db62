public import FerryCore
import Foundation
import PostgresNIO

extension PostgresJobStore {
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
        // A fresh set of attempts; attempt numbers keep counting so each attempt's files stay distinct.
        return try await move(id, .retry, reason: reason) { job, now in
            [("due_at", now), ("max_attempts", job.attempt + policies[job.kind].maxAttempts), ("resume_state", nil)]
        }
    }

    public func markCleaned(_ id: JobID, reason: String) async throws(StoreError) -> Job {
        try await move(id, .markCleaned, reason: reason) { _, now in [("cleaned_at", now)] }
    }

    /// Applies one operator command to one job.
    private func move(
        _ id: JobID, _ command: JobCommand, reason: String,
        extra: @escaping @Sendable (Job, Int64) -> [(column: String, value: Value)] = { _, _ in [] }
    ) async throws(StoreError) -> Job {
        let now = nowMilliseconds
        let logger = logger
        return try await write(jobID: id) { connection in
            let job = try await PostgresTransition.load(connection, id, logger)
            let transition = PostgresTransition(command: command, reason: reason, assignments: extra(job, now))
            return try await transition.apply(connection, to: job, now: now, logger)
        }
    }

    /// After an upload succeeded: when the download asked for its file to go once delivered and
    /// every upload has succeeded, marks them all cleaned in one transaction and returns the file
    /// to remove (the caller removes it after the commit); nil otherwise.
    public func cleanUpAfterDeliveries(of downloadID: JobID) async throws(StoreError) -> String? {
        let now = nowMilliseconds
        let logger = logger
        return try await write(jobID: downloadID) { connection in
            guard
                let row = try await connection.row(
                    """
                    SELECT d.delete_after_upload, j.result_location FROM downloads d JOIN jobs j ON j.id = d.job_id
                    WHERE d.job_id = \(downloadID.rawValue) FOR UPDATE OF j
                    """, logger),
                try row.value(0, as: Bool.self), let location = try row.value(1, as: String?.self)
            else { return nil }
            let uploads = try await connection.rows(
                """
                SELECT j.id, j.state FROM uploads u JOIN jobs j ON j.id = u.job_id
                WHERE u.download_id = \(downloadID.rawValue) ORDER BY j.id FOR UPDATE OF j
                """, logger)
            let states = try uploads.map { try $0.value(1, as: String.self) }
            guard !uploads.isEmpty, states.allSatisfy({ $0 == JobState.succeeded.rawValue }) else { return nil }
            try await Self.markCleaned(
                try uploads.map { JobID(try $0.value(0, as: Int64.self)) },
                reason: "every upload of download \(downloadID) succeeded; local file removed", connection, now, logger)
            return location
        }
    }

    /// Marks delivered uploads cleaned (their download's file is gone on purpose), in the
    /// connection's transaction.
    static func markCleaned(
        _ uploads: [JobID], reason: String, _ connection: PostgresConnection, _ now: Int64, _ logger: Logger
    ) async throws {
        for upload in uploads {
            let job = try await PostgresTransition.load(connection, upload, logger)
            let move = PostgresTransition(command: .markCleaned, reason: reason, assignments: [("cleaned_at", now)])
            _ = try await move.apply(connection, to: job, now: now, logger)
        }
    }

    /// On a node, only the downloads whose file is here (a file on another node is that node's to remove).
    public func deliveriesAwaitingCleanUp() async throws(StoreError) -> [JobID] {
        let logger = logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT d.job_id FROM downloads d JOIN jobs j ON j.id = d.job_id
                WHERE d.delete_after_upload AND j.state = 'succeeded'
                    AND (j.node IS NULL OR j.node = NULLIF(current_setting('ferry.node', true), '')
                        OR NULLIF(current_setting('ferry.node', true), '') IS NULL)
                    AND EXISTS (SELECT 1 FROM uploads u WHERE u.download_id = d.job_id)
                    AND NOT EXISTS (
                        SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                        WHERE u.download_id = d.job_id AND uj.state <> 'succeeded')
                ORDER BY d.job_id
                """, logger
            ).map { JobID(try $0.value(0, as: Int64.self)) }
        }
    }
}
