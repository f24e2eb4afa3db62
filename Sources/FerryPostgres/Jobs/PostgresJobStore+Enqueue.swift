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
        if requests.count <= 500, requests.allSatisfy({ $0.idempotencyKey == nil }) {
            // One statement: its own transaction, no BEGIN and COMMIT round trips.
            return try await single { connection in
                try await Self.insertDownloads(connection, requests, policy: policy, now: now, logger)
            }
        }
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

    /// Inserts downloads, their jobs and their details, in one prepared statement: the requests
    /// come as one array per column, the identity values are handed out in the arrays' order, and
    /// `row_number()` over them pairs each job with its request.
    static func insertDownloads(
        _ connection: PostgresConnection, _ requests: [DownloadRequest], policy: RetryPolicy, now: Int64,
        _ logger: Logger
    ) async throws -> [Enqueued] {
        guard !requests.isEmpty else { return [] }
        var binds = PostgresBindings()
        binds.append(NullableArray(requests.map(\.idempotencyKey)))
        binds.append(requests.map { Int64($0.priority) })
        binds.append(requests.map { Int64($0.maxAttempts ?? policy.maxAttempts) })
        binds.append(requests.map(\.spec.url))
        binds.append(NullableArray(requests.map(\.spec.fileName)))
        binds.append(NullableArray(requests.map(\.spec.expectedSize)))
        binds.append(NullableArray(requests.map(\.spec.expectedSHA256)))
        binds.append(try requests.map { try jsonArray($0.spec.uploadTargets) })
        binds.append(requests.map(\.spec.deleteAfterUpload))
        binds.append(NullableArray(requests.map(\.spec.engine?.rawValue)))
        binds.append(now)
        let rows = try await connection.rows(InsertDownloads.self, binds, logger)
        return try rows.map { Enqueued(job: try Job(postgres: $0), created: true) }
    }

    enum InsertDownloads: StatementShape {
        static var sql: String {
            """
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[],
                    $7::text[], $8::text[], $9::boolean[], $10::text[]) WITH ORDINALITY
                    AS i(idempotency_key, priority, max_attempts, url, file_name, expected_size, expected_sha256,
                        upload_targets, delete_after_upload, engine, ord)),
            created AS (
                INSERT INTO jobs (kind, state, idempotency_key, priority, attempt, max_attempts, created_at,
                    updated_at, due_at, state_cause)
                SELECT 'download', '\(JobLifecycle.download.initialState.rawValue)', idempotency_key, priority, 0,
                    max_attempts, $11, $11, $11, 'create'
                FROM input ORDER BY ord
                RETURNING \(JobColumns.list)),
            numbered AS (SELECT created.*, row_number() OVER (ORDER BY id) AS ord FROM created),
            details AS (
                INSERT INTO downloads (job_id, url, file_name, expected_size, expected_sha256, upload_targets,
                    delete_after_upload, engine)
                SELECT numbered.id, input.url, input.file_name, input.expected_size, input.expected_sha256,
                    input.upload_targets, input.delete_after_upload, input.engine
                FROM numbered JOIN input USING (ord))
            SELECT \(JobColumns.list) FROM numbered ORDER BY id
            """
        }
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
