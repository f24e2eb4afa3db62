public import FerryCore
import Foundation
internal import GRDB

extension SQLiteJobStore {
    public func enqueue(downloads requests: [DownloadRequest]) async throws(StoreError) -> [Enqueued] {
        let now = nowMilliseconds
        let policy = configuration.retryPolicies.download
        let requests = try requests.map { request throws(StoreError) in try request.normalized() }
        return try await write { db in
            // Runs of requests without a key go in bulk; a keyed request is looked up first.
            var enqueued: [Enqueued] = []
            enqueued.reserveCapacity(requests.count)
            var index = requests.startIndex
            while index < requests.endIndex {
                if requests[index].idempotencyKey != nil {
                    enqueued.append(try Self.insertDownload(db, requests[index], policy: policy, now: now))
                    index += 1
                    continue
                }
                let end = requests[index...].firstIndex { $0.idempotencyKey != nil } ?? requests.endIndex
                enqueued += try Self.insertDownloads(db, requests[index..<end], policy: policy, now: now)
                index = end
            }
            return enqueued
        }
    }

    public func enqueue(video request: VideoRequest) async throws(StoreError) -> Enqueued {
        let now = nowMilliseconds
        let policy = configuration.retryPolicies.video
        return try await write { db in
            if let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT \(JobColumns.qualified(by: "jobs")) FROM videos JOIN jobs ON jobs.id = videos.job_id
                    WHERE videos.user_id = ? AND videos.external_request_id = ?
                    """,
                arguments: [request.spec.userID, request.spec.externalRequestID])
            {
                return Enqueued(job: try Job(row: row), created: false)
            }
            let job = try Self.insertJob(
                db, kind: .video, key: nil, priority: request.priority,
                maxAttempts: request.maxAttempts ?? policy.maxAttempts, reason: nil, now: now)
            try db.execute(
                sql: """
                    INSERT INTO videos (job_id, user_id, external_request_id, source_url, metadata)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [
                    job.id.rawValue, request.spec.userID, request.spec.externalRequestID, request.spec.sourceURL,
                    request.spec.metadata,
                ])
            return Enqueued(job: job, created: true)
        }
    }

    static func insertDownload(
        _ db: Database, _ request: DownloadRequest, policy: RetryPolicy, now: Int64
    ) throws
        -> Enqueued
    {
        if let key = request.idempotencyKey,
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT \(JobColumns.list) FROM jobs WHERE kind = 'download' AND idempotency_key = ?
                        AND state NOT IN ('failed', 'cancelled')
                        """),
                arguments: [key])
        {
            let existing = try Job(row: row)
            let spec = try downloadSpec(db, existing.id)
            guard spec == request.spec else {
                throw StoreError(
                    .conflict,
                    "idempotency key '\(key)' is already used by job \(existing.id) for a different request; use a new key for new work",
                    jobID: existing.id)
            }
            return Enqueued(job: existing, created: false)
        }
        let job = try insertJob(
            db, kind: .download, key: request.idempotencyKey, priority: request.priority,
            maxAttempts: request.maxAttempts ?? policy.maxAttempts, reason: nil, now: now)
        let spec = request.spec
        try db.cachedStatement(
            sql: """
                INSERT INTO downloads (job_id, url, file_name, expected_size, expected_sha256, upload_targets,
                    delete_after_upload, engine)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            job.id.rawValue, spec.url, spec.fileName, spec.expectedSize, spec.expectedSHA256,
            try jsonArray(spec.uploadTargets), spec.deleteAfterUpload, spec.engine?.rawValue,
        ])
        return Enqueued(job: job, created: true)
    }

    /// Inserts a job row in its kind's initial state; the schema logs its creation.
    static func insertJob(
        _ db: Database, kind: JobKind, key: String?, priority: Int, maxAttempts: Int, reason: String?, now: Int64,
        lane: String? = nil
    ) throws -> Job {
        let state = JobLifecycle.of(kind).initialState
        try db.cachedStatement(
            sql: """
                INSERT INTO jobs (kind, state, idempotency_key, priority, attempt, max_attempts, created_at,
                    updated_at, due_at, state_cause, state_reason, lane)
                VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, 'create', ?, ?)
                """
        ).execute(arguments: [kind.rawValue, state.rawValue, key, priority, maxAttempts, now, now, now, reason, lane])
        let date = Date(storeMilliseconds: now)
        return Job(
            id: JobID(db.lastInsertedRowID), kind: kind, state: state, idempotencyKey: key, priority: priority,
            attempt: 0, maxAttempts: maxAttempts, createdAt: date, updatedAt: date, dueAt: date,
            stateCause: "create", stateReason: reason, lane: lane)
    }

    static func jsonArray(_ strings: [String]) throws -> String {
        if strings.isEmpty { return "[]" }
        return String(decoding: try JSONEncoder().encode(strings), as: UTF8.self)
    }
}
