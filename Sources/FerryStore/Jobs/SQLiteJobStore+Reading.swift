public import FerryCore
import Foundation
internal import GRDB

extension SQLiteJobStore {
    public func job(_ id: JobID) async throws(StoreError) -> Job {
        try await read(jobID: id) { db in try JobTransition.load(db, id) }
    }

    public func payload(of id: JobID) async throws(StoreError) -> JobPayload {
        try await read(jobID: id) { db in
            let job = try JobTransition.load(db, id)
            guard let payload = try Self.payloads(db, kind: job.kind, ids: [id])[id] else {
                throw StoreError(.corrupt, "job \(id) has no \(job.kind) details", jobID: id)
            }
            return payload
        }
    }

    public func payloads(of ids: [JobID], kind: JobKind) async throws(StoreError) -> [JobID: JobPayload] {
        try await read { db in try Self.payloads(db, kind: kind, ids: ids) }
    }

    public func events(of id: JobID) async throws(StoreError) -> [JobEvent] {
        try await read(jobID: id) { db in
            _ = try JobTransition.load(db, id)
            return try Row.fetchAll(
                db, sql: "SELECT * FROM job_events WHERE job_id = ? ORDER BY id", arguments: [id.rawValue]
            )
            .map(JobEvent.init(row:))
        }
    }

    public func events(after lastID: Int64, limit: Int) async throws(StoreError) -> [JobEvent] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM job_events WHERE id > ? ORDER BY id LIMIT ?", arguments: [lastID, limit]
            )
            .map(JobEvent.init(row:))
        }
    }

    public func lastEventID() async throws(StoreError) -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT max(id) FROM job_events") ?? 0 }
    }

    public func jobs(matching query: JobQuery) async throws(StoreError) -> [Job] {
        try await read { db in
            var conditions: [String] = []
            var arguments = StatementArguments()
            if let kind = query.kind {
                conditions.append("kind = ?")
                arguments += [kind.rawValue]
            }
            if !query.states.isEmpty {
                let states = query.states.map(\.rawValue).sorted()
                conditions.append("state IN (\(states.map { _ in "?" }.joined(separator: ", ")))")
                arguments += StatementArguments(states)
            }
            if let before = query.before {
                conditions.append("id < ?")
                arguments += [before.rawValue]
            }
            if let dueBefore = query.dueBefore {
                conditions.append("due_at < ?")
                arguments += [Int64((dueBefore.timeIntervalSince1970 * 1000).rounded(.down))]
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let order = query.oldestFirst ? "ASC" : "DESC"
            arguments += [max(0, min(query.limit, 10_000))]
            return try Row.fetchAll(
                db, sql: "SELECT \(JobColumns.list) FROM jobs \(whereClause) ORDER BY id \(order) LIMIT ?",
                arguments: arguments
            )
            .map(Job.init(row:))
        }
    }

    public func uploads(of downloadID: JobID) async throws(StoreError) -> [Job] {
        try await read(jobID: downloadID) { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT \(JobColumns.qualified(by: "jobs")) FROM uploads JOIN jobs ON jobs.id = uploads.job_id WHERE uploads.download_id = ? ORDER BY jobs.id",
                arguments: [downloadID.rawValue]
            ).map(Job.init(row:))
        }
    }

    public func queueCounts() async throws(StoreError) -> [QueueCount] {
        try await counts(where: "")
    }

    public func unfinishedQueueCounts() async throws(StoreError) -> [QueueCount] {
        try await counts(where: QueueCount.unfinishedCondition)
    }

    private func counts(where condition: String) async throws(StoreError) -> [QueueCount] {
        let now = nowMilliseconds
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT kind, state, count(*) AS n,
                        min(CASE WHEN state IN ('queued', 'temporary') AND due_at <= ? THEN created_at END) AS oldest
                    FROM jobs \(condition) GROUP BY kind, state ORDER BY kind, state
                    """,
                arguments: [now]
            ).compactMap { row in
                guard let kind = JobKind(rawValue: row["kind"]), let state = JobState(rawValue: row["state"]) else {
                    return nil
                }
                return QueueCount(
                    kind: kind, state: state, count: row["n"],
                    oldestCreatedAt: (row["oldest"] as Int64?).map(Date.init(storeMilliseconds:)))
            }
        }
    }

    /// The details of jobs of one kind, by id.
    static func payloads(_ db: Database, kind: JobKind, ids: [JobID]) throws -> [JobID: JobPayload] {
        guard !ids.isEmpty else { return [:] }
        var payloads: [JobID: JobPayload] = [:]
        // Chunked to stay far below SQLite's limit on bound parameters.
        for chunk in ids.chunked(into: 500) {
            let placeholders = chunk.map { _ in "?" }.joined(separator: ", ")
            let arguments = StatementArguments(chunk.map(\.rawValue))
            switch kind {
            case .download:
                for row in try Row.fetchAll(
                    db, sql: "SELECT \(downloadColumns) FROM downloads WHERE job_id IN (\(placeholders))",
                    arguments: arguments)
                {
                    payloads[JobID(row[0] as Int64)] = .download(try downloadSpec(row: row))
                }
            case .upload:
                let sql = """
                    SELECT uploads.job_id, uploads.download_id, uploads.target,
                        d.result_location, d.result_size, d.result_sha256
                    FROM uploads JOIN jobs d ON d.id = uploads.download_id
                    WHERE uploads.job_id IN (\(placeholders))
                    """
                for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
                    let spec = UploadSpec(
                        downloadID: JobID(row["download_id"] as Int64), target: row["target"],
                        sourcePath: row["result_location"] ?? "", sourceSize: row["result_size"] ?? 0,
                        sourceSHA256: row["result_sha256"] ?? "")
                    payloads[JobID(row["job_id"] as Int64)] = .upload(spec)
                }
            case .video:
                for row in try Row.fetchAll(
                    db, sql: "SELECT * FROM videos WHERE job_id IN (\(placeholders))", arguments: arguments)
                {
                    let spec = VideoSpec(
                        userID: row["user_id"], externalRequestID: row["external_request_id"],
                        sourceURL: row["source_url"], metadata: row["metadata"])
                    payloads[JobID(row["job_id"] as Int64)] = .video(spec)
                }
            }
        }
        return payloads
    }

    static func downloadSpec(_ db: Database, _ id: JobID) throws -> DownloadSpec {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT \(downloadColumns) FROM downloads WHERE job_id = ?", arguments: [id.rawValue])
        else {
            throw StoreError(.corrupt, "job \(id) has no download details", jobID: id)
        }
        return try downloadSpec(row: row)
    }

    /// The columns ``downloadSpec(row:)`` decodes, in order.
    static let downloadColumns =
        "job_id, url, file_name, expected_size, expected_sha256, delete_after_upload, upload_targets, engine"

    static func downloadSpec(row: Row) throws -> DownloadSpec {
        let targetsJSON: String = row[6]
        let targets = targetsJSON == "[]" ? [] : try JSONDecoder().decode([String].self, from: Data(targetsJSON.utf8))
        return DownloadSpec(
            url: row[1], fileName: row.optional(2), expectedSize: row.optional(3), expectedSHA256: row.optional(4),
            uploadTargets: targets, deleteAfterUpload: row[5],
            engine: (row.optional(7) as String?).flatMap(DownloadEngine.init(rawValue:)))
    }
}
