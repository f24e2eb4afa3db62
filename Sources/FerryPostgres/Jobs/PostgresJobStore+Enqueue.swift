public import FerryCore
import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore {
    public func enqueue(downloads requests: [DownloadRequest]) async throws(StoreError) -> [Enqueued] {
        let now = nowMilliseconds
        let policy = configuration.retryPolicies.download
        let requests = try requests.map { request throws(StoreError) in try request.normalized() }
        let logger = logger
        return try await write { connection in
            var enqueued: [Enqueued] = []
            enqueued.reserveCapacity(requests.count)
            for chunk in requests.chunked(into: 500) {
                // Keyed requests are looked up first; runs of unkeyed ones go in one statement.
                var unkeyed: [DownloadRequest] = []
                for request in chunk {
                    if request.idempotencyKey == nil {
                        unkeyed.append(request)
                        continue
                    }
                    enqueued += try await Self.insertDownloads(connection, unkeyed, policy: policy, now: now, logger)
                    unkeyed = []
                    enqueued.append(
                        try await Self.insertDownload(connection, request, policy: policy, now: now, logger))
                }
                enqueued += try await Self.insertDownloads(connection, unkeyed, policy: policy, now: now, logger)
            }
            return enqueued
        }
    }

    public func enqueue(video request: VideoRequest) async throws(StoreError) -> Enqueued {
        let now = nowMilliseconds
        let policy = configuration.retryPolicies.video
        let logger = logger
        return try await write { connection in
            // Two nodes storing the same request at once: the second waits here for the first.
            try await connection.run(
                "SELECT pg_advisory_xact_lock(hashtextextended(\("video/\(request.spec.userID)/\(request.spec.externalRequestID)"), 0))",
                logger)
            if let row = try await connection.row(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT \(JobColumns.qualified(by: "jobs")) FROM videos JOIN jobs ON jobs.id = videos.job_id
                        WHERE videos.user_id = $1 AND videos.external_request_id = $2
                        """,
                    binds: Self.binds(request.spec.userID, request.spec.externalRequestID)), logger)
            {
                return Enqueued(job: try Job(postgres: row), created: false)
            }
            let job = try await Self.insertJobs(
                connection, kind: .video,
                rows: [(nil, request.priority, request.maxAttempts ?? policy.maxAttempts, nil)],
                now: now, logger)[0]
            try await connection.run(
                """
                INSERT INTO videos (job_id, user_id, external_request_id, source_url, metadata)
                VALUES (\(job.id.rawValue), \(request.spec.userID), \(request.spec.externalRequestID),
                    \(request.spec.sourceURL), \(request.spec.metadata))
                """, logger)
            return Enqueued(job: job, created: true)
        }
    }

    /// A download with an idempotency key: the live job holding the key is returned instead of a
    /// new one. An advisory lock on the key makes concurrent callers (on any node) wait for each
    /// other, so exactly one creates the job and the others find it.
    static func insertDownload(
        _ connection: PostgresConnection, _ request: DownloadRequest, policy: RetryPolicy, now: Int64, _ logger: Logger
    ) async throws -> Enqueued {
        guard let key = request.idempotencyKey else {
            return try await insertDownloads(connection, [request], policy: policy, now: now, logger)[0]
        }
        try await connection.run("SELECT pg_advisory_xact_lock(hashtextextended(\("download/\(key)"), 0))", logger)
        if let row = try await connection.row(
            PostgresQuery(
                unsafeSQL: """
                    SELECT \(JobColumns.list) FROM jobs WHERE kind = 'download' AND idempotency_key = $1
                    AND state NOT IN ('failed', 'cancelled')
                    """, binds: binds(key)), logger)
        {
            let existing = try Job(postgres: row)
            let spec = try await downloadSpec(connection, existing.id, logger)
            guard spec == request.spec else {
                throw StoreError(
                    .conflict,
                    "idempotency key '\(key)' is already used by job \(existing.id) for a different request; use a new key for new work",
                    jobID: existing.id)
            }
            return Enqueued(job: existing, created: false)
        }
        return try await insertDownloads(connection, [request], policy: policy, now: now, logger)[0]
    }

    /// Inserts downloads (their jobs, then their details) with one statement each.
    static func insertDownloads(
        _ connection: PostgresConnection, _ requests: [DownloadRequest], policy: RetryPolicy, now: Int64,
        _ logger: Logger
    ) async throws -> [Enqueued] {
        guard !requests.isEmpty else { return [] }
        let jobs = try await insertJobs(
            connection, kind: .download,
            rows: requests.map { ($0.idempotencyKey, $0.priority, $0.maxAttempts ?? policy.maxAttempts, nil) },
            now: now, logger)
        var binds = PostgresBindings()
        var values: [String] = []
        for (job, request) in zip(jobs, requests) {
            let spec = request.spec
            let row: [Value] = [
                job.id.rawValue, spec.url, spec.fileName, spec.expectedSize, spec.expectedSHA256,
                try jsonArray(spec.uploadTargets), spec.deleteAfterUpload, spec.engine?.rawValue,
            ]
            values.append("(" + row.map { binds.placeholder($0) }.joined(separator: ", ") + ")")
        }
        try await connection.run(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO downloads (job_id, url, file_name, expected_size, expected_sha256, upload_targets,
                        delete_after_upload, engine)
                    VALUES \(values.joined(separator: ", "))
                    """, binds: binds), logger)
        return jobs.map { Enqueued(job: $0, created: true) }
    }

    /// Inserts job rows in their kind's initial state, in the given order; the schema logs their
    /// creation. Each row is (idempotency key, priority, max attempts, reason).
    static func insertJobs(
        _ connection: PostgresConnection, kind: JobKind, rows: [(String?, Int, Int, String?)], now: Int64,
        _ logger: Logger
    ) async throws -> [Job] {
        let state = JobLifecycle.of(kind).initialState
        var binds = PostgresBindings()
        let values = rows.enumerated().map { index, row in
            let fields: [Value] = [Int64(index), row.0, Int64(row.1), Int64(row.2), row.3]
            let placeholders = fields.map { binds.placeholder($0) }
            return
                "(\(placeholders[0])::bigint, '\(kind.rawValue)', '\(state.rawValue)', \(placeholders[1])::text, \(placeholders[2])::integer, 0, \(placeholders[3])::integer, \(now), \(now), \(now), 'create', \(placeholders[4])::text)"
        }
        // Identity values are handed out in VALUES order; `ord` pairs each id with its row.
        let inserted = try await connection.rows(
            PostgresQuery(
                unsafeSQL: """
                    WITH input(ord, kind, state, idempotency_key, priority, attempt, max_attempts, created_at,
                        updated_at, due_at, state_cause, state_reason) AS (VALUES \(values.joined(separator: ", ")))
                    INSERT INTO jobs (kind, state, idempotency_key, priority, attempt, max_attempts, created_at,
                        updated_at, due_at, state_cause, state_reason)
                    SELECT kind, state, idempotency_key, priority, attempt, max_attempts, created_at, updated_at,
                        due_at, state_cause, state_reason FROM input ORDER BY ord
                    RETURNING \(JobColumns.list)
                    """, binds: binds), logger)
        return try inserted.map { try Job(postgres: $0) }.sorted { $0.id < $1.id }
    }

    static func jsonArray(_ strings: [String]) throws -> String {
        if strings.isEmpty { return "[]" }
        return String(decoding: try JSONEncoder().encode(strings), as: UTF8.self)
    }

    /// Bindings of plain values, in order ($1, $2, …).
    static func binds(_ values: Value...) -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values { _ = binds.placeholder(value) }
        return binds
    }
}

extension Array {
    func chunked(into size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
