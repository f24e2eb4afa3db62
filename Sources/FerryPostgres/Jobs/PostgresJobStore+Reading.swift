public import FerryCore
import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore {
    public func job(_ id: JobID) async throws(StoreError) -> Job {
        let logger = logger
        return try await read(jobID: id) { connection in
            try await PostgresTransition.load(connection, id, logger, lock: false)
        }
    }

    public func payload(of id: JobID) async throws(StoreError) -> JobPayload {
        let logger = logger
        return try await read(jobID: id) { connection in
            let job = try await PostgresTransition.load(connection, id, logger, lock: false)
            guard let payload = try await Self.payloads(connection, kind: job.kind, ids: [id], logger)[id] else {
                throw StoreError(.corrupt, "job \(id) has no \(job.kind) details", jobID: id)
            }
            return payload
        }
    }

    public func payloads(of ids: [JobID], kind: JobKind) async throws(StoreError) -> [JobID: JobPayload] {
        let logger = logger
        return try await read { connection in try await Self.payloads(connection, kind: kind, ids: ids, logger) }
    }

    public func events(of id: JobID) async throws(StoreError) -> [JobEvent] {
        let logger = logger
        return try await read(jobID: id) { connection in
            _ = try await PostgresTransition.load(connection, id, logger, lock: false)
            return try await connection.rows(
                PostgresQuery(
                    unsafeSQL: "SELECT \(eventColumns) FROM job_events WHERE job_id = $1 ORDER BY id",
                    binds: Self.binds(id.rawValue)), logger
            ).map(JobEvent.init(postgres:))
        }
    }

    public func events(after lastID: Int64, limit: Int) async throws(StoreError) -> [JobEvent] {
        let logger = logger
        return try await read { connection in
            try await connection.rows(
                PostgresQuery(
                    unsafeSQL: "SELECT \(eventColumns) FROM job_events WHERE id > $1 ORDER BY id LIMIT $2",
                    binds: Self.binds(lastID, Int64(limit))), logger
            ).map(JobEvent.init(postgres:))
        }
    }

    public func lastEventID() async throws(StoreError) -> Int64 {
        let logger = logger
        return try await read { connection in
            try await connection.row("SELECT COALESCE(max(id), 0) FROM job_events", logger)?.value(0, as: Int64.self)
                ?? 0
        }
    }

    public func jobs(matching query: JobQuery) async throws(StoreError) -> [Job] {
        let logger = logger
        return try await read { connection in
            var binds = PostgresBindings()
            var conditions: [String] = []
            if let kind = query.kind { conditions.append("kind = \(binds.placeholder(kind.rawValue))") }
            if !query.states.isEmpty {
                binds.append(query.states.map(\.rawValue).sorted())
                conditions.append("state = ANY($\(binds.count))")
            }
            if let before = query.before { conditions.append("id < \(binds.placeholder(before.rawValue))") }
            if let dueBefore = query.dueBefore {
                conditions.append("due_at < \(binds.placeholder(dueBefore.storeMilliseconds))")
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let order = query.oldestFirst ? "ASC" : "DESC"
            let limit = binds.placeholder(Int64(max(0, min(query.limit, 10_000))))
            return try await connection.rows(
                PostgresQuery(
                    unsafeSQL: "SELECT \(JobColumns.list) FROM jobs \(whereClause) ORDER BY id \(order) LIMIT \(limit)",
                    binds: binds), logger
            ).map(Job.init(postgres:))
        }
    }

    public func uploads(of downloadID: JobID) async throws(StoreError) -> [Job] {
        let logger = logger
        return try await read(jobID: downloadID) { connection in
            try await connection.rows(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT \(JobColumns.qualified(by: "jobs")) FROM uploads JOIN jobs ON jobs.id = uploads.job_id
                        WHERE uploads.download_id = $1 ORDER BY jobs.id
                        """, binds: Self.binds(downloadID.rawValue)), logger
            ).map(Job.init(postgres:))
        }
    }

    public func queueCounts() async throws(StoreError) -> [QueueCount] {
        let now = nowMilliseconds
        let logger = logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT kind, state, count(*),
                    min(CASE WHEN state IN ('queued', 'temporary') AND due_at <= \(now) THEN created_at END)
                FROM jobs GROUP BY kind, state ORDER BY kind, state
                """, logger
            ).compactMap { row in
                guard let kind = JobKind(rawValue: try row.value(0, as: String.self)),
                    let state = JobState(rawValue: try row.value(1, as: String.self))
                else { return nil }
                return QueueCount(
                    kind: kind, state: state, count: Int(try row.value(2, as: Int64.self)),
                    oldestCreatedAt: try row.optionalDate(3))
            }
        }
    }

    /// The details of jobs of one kind, by id.
    static func payloads(
        _ connection: PostgresConnection, kind: JobKind, ids: [JobID], _ logger: Logger
    ) async throws
        -> [JobID: JobPayload]
    {
        guard !ids.isEmpty else { return [:] }
        let idList = ids.map(\.rawValue)
        var payloads: [JobID: JobPayload] = [:]
        switch kind {
        case .download:
            for row in try await connection.rows(
                PostgresQuery(
                    unsafeSQL: "SELECT \(downloadColumns) FROM downloads WHERE job_id = ANY($1)", binds: binds(idList)),
                logger)
            {
                payloads[JobID(try row.value(0, as: Int64.self))] = .download(try downloadSpec(row: row))
            }
        case .upload:
            for row in try await connection.rows(
                """
                SELECT u.job_id, u.download_id, u.target, d.result_location, d.result_size, d.result_sha256
                FROM uploads u JOIN jobs d ON d.id = u.download_id WHERE u.job_id = ANY(\(idList))
                """, logger)
            {
                let spec = UploadSpec(
                    downloadID: JobID(try row.value(1, as: Int64.self)), target: try row.value(2),
                    sourcePath: try row.value(3, as: String?.self) ?? "",
                    sourceSize: try row.value(4, as: Int64?.self) ?? 0,
                    sourceSHA256: try row.value(5, as: String?.self) ?? "")
                payloads[JobID(try row.value(0, as: Int64.self))] = .upload(spec)
            }
        case .video:
            for row in try await connection.rows(
                """
                SELECT job_id, user_id, external_request_id, source_url, metadata FROM videos
                WHERE job_id = ANY(\(idList))
                """, logger)
            {
                let spec = VideoSpec(
                    userID: try row.value(1), externalRequestID: try row.value(2), sourceURL: try row.value(3),
                    metadata: try row.value(4))
                payloads[JobID(try row.value(0, as: Int64.self))] = .video(spec)
            }
        }
        return payloads
    }

    static func downloadSpec(
        _ connection: PostgresConnection, _ id: JobID, _ logger: Logger
    ) async throws
        -> DownloadSpec
    {
        guard
            let row = try await connection.row(
                PostgresQuery(
                    unsafeSQL: "SELECT \(downloadColumns) FROM downloads WHERE job_id = $1", binds: binds(id.rawValue)),
                logger)
        else {
            throw StoreError(.corrupt, "job \(id) has no download details", jobID: id)
        }
        return try downloadSpec(row: row)
    }

    /// The columns ``downloadSpec(row:)`` decodes, in order.
    static let downloadColumns =
        "job_id, url, file_name, expected_size, expected_sha256, delete_after_upload, upload_targets, engine"

    static func downloadSpec(row: PostgresRandomAccessRow) throws -> DownloadSpec {
        let targetsJSON = try row.value(6, as: String.self)
        let targets = targetsJSON == "[]" ? [] : try JSONDecoder().decode([String].self, from: Data(targetsJSON.utf8))
        return DownloadSpec(
            url: try row.value(1), fileName: try row.value(2), expectedSize: try row.value(3),
            expectedSHA256: try row.value(4), uploadTargets: targets, deleteAfterUpload: try row.value(5),
            engine: try row.value(7, as: String?.self).flatMap(DownloadEngine.init(rawValue:)))
    }

    /// A user's videos for `GET /api/user/videos`, filtered, ordered and paged.
    public func videos(matching query: VideoQuery) async throws(StoreError) -> VideoPage {
        let logger = logger
        return try await read { connection in
            var binds = PostgresBindings()
            var condition = "videos.user_id = \(binds.placeholder(query.userID))"
            if !query.states.isEmpty {
                binds.append(query.states.map(\.rawValue).sorted())
                condition += " AND jobs.state = ANY($\(binds.count))"
            }
            let from = "FROM videos JOIN jobs ON jobs.id = videos.job_id WHERE \(condition)"
            let total =
                try await connection.row(PostgresQuery(unsafeSQL: "SELECT count(*) \(from)", binds: binds), logger)?
                .value(0, as: Int64.self) ?? 0
            let column = query.orderBy == .createdAt ? "jobs.created_at" : "jobs.updated_at"
            let direction = query.ascending ? "ASC" : "DESC"
            let limit = binds.placeholder(Int64(query.limit))
            let offset = binds.placeholder(Int64((query.page - 1) * query.limit))
            let jobs = try await connection.rows(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT \(JobColumns.qualified(by: "jobs")) \(from) ORDER BY \(column) \(direction), jobs.id \(direction) LIMIT \(limit) OFFSET \(offset)",
                    binds: binds), logger
            ).map(Job.init(postgres:))
            let payloads = try await Self.payloads(connection, kind: .video, ids: jobs.map(\.id), logger)
            let videos = try jobs.map { job in
                guard case .video(let spec) = payloads[job.id] else {
                    throw StoreError(.corrupt, "video job \(job.id) has no details", jobID: job.id)
                }
                return (job: job, spec: spec)
            }
            return VideoPage(total: Int(total), videos: videos)
        }
    }
}
