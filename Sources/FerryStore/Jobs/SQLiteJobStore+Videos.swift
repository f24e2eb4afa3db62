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
            let columns =
                JobColumns.qualified(by: "jobs")
                + ", videos.user_id, videos.external_request_id, videos.source_url, videos.metadata"
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT \(columns) \(from) ORDER BY \(column) \(direction), jobs.id \(direction) LIMIT ? OFFSET ?",
                arguments: arguments + [query.limit, (query.page - 1) * query.limit])
            let first = JobColumns.names.count
            let videos = try rows.map { row in
                (
                    job: try Job(row: row),
                    spec: VideoSpec(
                        userID: row[first], externalRequestID: row[first + 1], sourceURL: row[first + 2],
                        metadata: row[first + 3])
                )
            }
            return VideoPage(total: total, videos: videos)
        }
    }
}
