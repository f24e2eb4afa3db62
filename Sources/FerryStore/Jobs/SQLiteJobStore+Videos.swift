public import FerryCore
internal import GRDB

extension SQLiteJobStore {
    /// A user's videos for `GET /api/user/videos`; the `videos_by_user` index serves the filter.
    public func videos(matching query: VideoQuery) async throws(StoreError) -> VideoPage {
        try await read { db in
            var condition = "videos.user_id = ?"
            var arguments: StatementArguments = [query.userID]
            if !query.states.isEmpty {
                let states = query.states.map(\.rawValue).sorted()
                condition += " AND jobs.state IN (\(states.map { _ in "?" }.joined(separator: ", ")))"
                arguments += StatementArguments(states)
            }
            let from = "FROM videos JOIN jobs ON jobs.id = videos.job_id WHERE \(condition)"
            let total = try Int.fetchOne(db, sql: "SELECT count(*) \(from)", arguments: arguments) ?? 0
            let column = query.orderBy == .createdAt ? "jobs.created_at" : "jobs.updated_at"
            let direction = query.ascending ? "ASC" : "DESC"
            let jobs = try Row.fetchAll(
                db,
                sql:
                    "SELECT \(JobColumns.qualified(by: "jobs")) \(from) ORDER BY \(column) \(direction), jobs.id \(direction) LIMIT ? OFFSET ?",
                arguments: arguments + [query.limit, (query.page - 1) * query.limit]
            ).map(Job.init(row:))
            let payloads = try Self.payloads(db, kind: .video, ids: jobs.map(\.id))
            let videos = try jobs.map { job in
                guard case .video(let spec) = payloads[job.id] else {
                    throw StoreError(.corrupt, "video job \(job.id) has no details", jobID: job.id)
                }
                return (job: job, spec: spec)
            }
            return VideoPage(total: total, videos: videos)
        }
    }
}
