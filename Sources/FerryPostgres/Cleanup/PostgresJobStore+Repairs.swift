public import FerryCore
import Foundation
import PostgresNIO

/// What a cleanup run reads and changes in the records on PostgreSQL. A node's run covers the
/// records whose file it holds (`jobs.node`, see ``fileIsHere(_:)``): another node's file is
/// neither checked, nor refetched, nor failed for here.
extension PostgresJobStore {
    /// Every finished download and stored video with a file (except downloads delivered and
    /// removed), each marked with whether its file is on this node.
    public func fileRecords() async throws(StoreError) -> [FileRecord] {
        let logger = logger
        return try await read { connection in
            try await connection.rows(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT j.id, j.kind, j.result_location, j.result_size, j.result_sha256,
                            \(Self.fileIsHere("j.node"))
                        FROM jobs j
                        WHERE ((j.kind = 'download' AND j.state = 'succeeded') OR (j.kind = 'video' AND j.state = 'stored'))
                            AND NOT EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                                WHERE u.download_id = j.id AND uj.state = 'cleaned')
                        ORDER BY j.id
                        """), logger
            ).map { row in
                FileRecord(
                    jobID: JobID(try row.value(0, as: Int64.self)),
                    kind: JobKind(rawValue: try row.value(1, as: String.self)) ?? .download,
                    path: try row.value(2), size: try row.value(3), sha256: try row.value(4), isHere: try row.value(5))
            }
        }
    }

    public func deliveredAndRemoved(_ ids: [JobID]) async throws(StoreError) -> Set<JobID> {
        guard !ids.isEmpty else { return [] }
        let logger = logger
        let raw = ids.map(\.rawValue)
        return try await read { connection in
            Set(
                try await connection.rows(
                    """
                    SELECT DISTINCT u.download_id FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                    WHERE uj.state = 'cleaned' AND u.download_id = ANY(\(raw))
                    """, logger
                ).map { JobID(try $0.value(0, as: Int64.self)) })
        }
    }

    public func states(of ids: [JobID]) async throws(StoreError) -> [JobID: JobState] {
        guard !ids.isEmpty else { return [:] }
        let logger = logger
        let raw = ids.map(\.rawValue)
        return try await read { connection in
            var states: [JobID: JobState] = [:]
            for row in try await connection.rows("SELECT id, state FROM jobs WHERE id = ANY(\(raw))", logger) {
                if let state = JobState(rawValue: try row.value(1, as: String.self)) {
                    states[JobID(try row.value(0, as: Int64.self))] = state
                }
            }
            return states
        }
    }

    /// Queued uploads waiting longer than `minimumAge` whose download holds a file on this node
    /// (only here can its absence be seen; a download being fetched again has no file to miss).
    public func queuedUploadSources(
        olderThan minimumAge: Duration, limit: Int
    ) async throws(StoreError) -> [(upload: JobID, source: String?)] {
        let cutoff = nowMilliseconds - minimumAge.inMilliseconds
        let logger = logger
        return try await read { connection in
            try await connection.rows(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT j.id, d.result_location FROM jobs j JOIN uploads u ON u.job_id = j.id
                        JOIN jobs d ON d.id = u.download_id
                        WHERE j.kind = 'upload' AND j.state = 'queued' AND j.created_at <= $1
                            AND d.state = 'succeeded' AND \(Self.fileIsHere("d.node"))
                        ORDER BY j.id LIMIT $2
                        """, binds: Self.binds(cutoff, Int64(limit))), logger
            ).map { (JobID(try $0.value(0, as: Int64.self)), try $0.value(1, as: String?.self)) }
        }
    }

    public func failQueued(_ id: JobID, with failure: JobFailure) async throws(StoreError) -> Job {
        let now = nowMilliseconds
        let logger = logger
        return try await write(jobID: id) { connection in
            let job = try await PostgresTransition.load(connection, id, logger)
            let move = PostgresTransition(
                command: .fail, reason: "\(failure.code): \(failure.message)",
                assignments: [
                    ("last_error", failure.message), ("last_error_code", failure.code),
                    ("last_error_class", failure.failureClass.rawValue),
                ])
            return try await move.apply(connection, to: job, now: now, logger)
        }
    }

    /// Sends a finished download or stored video whose file is missing or damaged back to be
    /// fetched again, by any node (its recorded node is cleared). Refused for an adopted download
    /// (no source), one delivered and removed on purpose, and a file another node holds.
    public func refetch(_ id: JobID, reason: String) async throws(StoreError) -> Job {
        let now = nowMilliseconds
        let policies = configuration.retryPolicies
        let here = configuration.node?.id
        let logger = logger
        return try await write(jobID: id) { connection in
            let job = try await PostgresTransition.load(connection, id, logger)
            let facts = try await connection.row(
                """
                SELECT j.node,
                    EXISTS (SELECT 1 FROM downloads d WHERE d.job_id = j.id AND d.url LIKE 'file:%'),
                    EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                        WHERE u.download_id = j.id AND uj.state = 'cleaned')
                FROM jobs j WHERE j.id = \(id.rawValue)
                """, logger)
            if let node = try facts?.value(0, as: String?.self), let here, node != here {
                throw StoreError(
                    .conflict,
                    "the file of job \(id) is on node \(node), not on \(here): that node's cleanup checks it",
                    jobID: id)
            }
            if try facts?.value(1, as: Bool.self) == true {
                throw StoreError(
                    .conflict,
                    "download \(id) was adopted from a file with no record: there is no source to fetch it again from",
                    jobID: id)
            }
            // The scan may have read the record just before the file left on purpose.
            if try facts?.value(2, as: Bool.self) == true {
                throw StoreError(
                    .conflict, "download \(id) was delivered and its file removed on purpose; nothing to fetch",
                    jobID: id)
            }
            let move = Self.refetchMove(of: job, reason: reason, policies: policies, now: now)
            return try await move.apply(connection, to: job, now: now, logger)
        }
    }

    /// Refreshes the planner's statistics of the busy tables. (Vacuuming is the server's own
    /// autovacuum's; it cannot run inside the transactions the pool hands out.)
    public func maintain() async throws(StoreError) {
        let logger = logger
        try await single { connection in
            try await connection.run("ANALYZE jobs, job_events, downloads, uploads, cleanup_runs", logger)
        }
    }
}
