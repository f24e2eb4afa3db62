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
        try await counts(where: "")
    }

    public func unfinishedQueueCounts() async throws(StoreError) -> [QueueCount] {
        try await counts(where: QueueCount.unfinishedCondition)
    }

    private func counts(where condition: String) async throws(StoreError) -> [QueueCount] {
        let now = nowMilliseconds
        let logger = logger
        return try await read { connection in
            var bindings = PostgresBindings()
            let due = bindings.placeholder(now)
            return try await connection.rows(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT kind, state, count(*),
                            min(CASE WHEN state IN ('queued', 'temporary') AND due_at <= \(due) THEN created_at END)
                        FROM jobs \(condition) GROUP BY kind, state ORDER BY kind, state
                        """, binds: bindings), logger
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
        let (columns, join) = PayloadColumns.join(kind, to: "jobs")
        var payloads: [JobID: JobPayload] = [:]
        for row in try await connection.rows(
            PostgresQuery(
                unsafeSQL:
                    "SELECT jobs.id, \(columns) FROM jobs \(join) WHERE jobs.id = ANY($1) AND jobs.kind = '\(kind.rawValue)'",
                binds: binds(ids.map(\.rawValue))), logger)
        {
            payloads[JobID(try row.value(0, as: Int64.self))] = try PayloadColumns.decode(kind, row, at: 1)
        }
        return payloads
    }

    static func downloadSpec(
        _ connection: PostgresConnection, _ id: JobID, _ logger: Logger
    ) async throws
        -> DownloadSpec
    {
        guard case .download(let spec) = try await payloads(connection, kind: .download, ids: [id], logger)[id] else {
            throw StoreError(.corrupt, "job \(id) has no download details", jobID: id)
        }
        return spec
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
