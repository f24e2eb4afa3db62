public import FerryCore
import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore {
    /// Forgets the node `name` for good: a machine that will not come back with its state folder.
    ///
    /// Until then the take-over fetches again only the files whose uploads still wait, and keeps
    /// the other records of a dead node's files for a node of its name to return to. Forgetting
    /// settles them: a download whose file was kept is fetched again from its source by a live node
    /// (pinned to the lost bytes); one delivered everywhere whose file was to be removed after its
    /// uploads gets them marked cleaned; what has no source to fetch again is reported as lost.
    /// Refused while an incarnation of the node still holds a live lease.
    ///
    /// With `dryRun`, everything is done in a transaction that is then rolled back: the report is
    /// exactly what forgetting would do now, and nothing changes (no wake-up is sent either, since
    /// PostgreSQL delivers a notification only when its transaction commits).
    public func forgetNode(named name: String, dryRun: Bool = false) async throws(StoreError) -> ForgottenNode {
        let now = nowMilliseconds
        let policies = configuration.retryPolicies
        let logger = logger
        let forget: @Sendable (PostgresConnection) async throws -> ForgottenNode = { connection in
            let live = try await connection.rows(
                """
                SELECT id FROM nodes WHERE name = \(name) AND stopped_at IS NULL AND lease_expires_at > clock_timestamp()
                """, logger
            ).map { try $0.value(0, as: String.self) }
            guard live.isEmpty else {
                throw StoreError(
                    .conflict,
                    "node \(name) is alive (\(live.joined(separator: ", ")) holds a lease): stop it, and let its lease run out, before forgetting it"
                )
            }
            var report = ForgottenNode()
            report.incarnations = try await connection.rows(
                """
                UPDATE nodes SET stopped_at = COALESCE(stopped_at, clock_timestamp()), stop_reason = 'forgotten'
                WHERE name = \(name) RETURNING id
                """, logger
            ).map { try $0.value(0, as: String.self) }.sorted()
            guard !report.incarnations.isEmpty else {
                throw StoreError(.notFound, "no node named \(name) has joined this cluster; `ferry status` lists them")
            }
            report.released = try await Self.releaseJobs(
                connection, ofNodes: report.incarnations, reason: "its node \(name) was forgotten",
                exitReason: "node_lost", now: now, logger
            ).map(\.job.id)
            try await Self.settleFiles(
                of: report.incarnations, name: name, into: &report, connection, policies, now, logger)
            return report
        }
        return dryRun ? try await rehearse(forget) : try await write(forget)
    }

    /// The succeeded downloads and stored videos whose file was on `nodes`, settled as
    /// ``forgetNode(named:)`` says.
    private static func settleFiles(
        of nodes: [String], name: String, into report: inout ForgottenNode, _ connection: PostgresConnection,
        _ policies: RetryPolicies, _ now: Int64, _ logger: Logger
    ) async throws {
        // A download one of whose uploads is cleaned has no file any more: nothing was lost.
        let downloads = try await connection.rows(
            """
            SELECT j.id, j.node, d.url LIKE 'file:%', d.url ~ '^https?://' AND (d.engine IS NULL OR d.engine = 'ferry'),
                d.delete_after_upload,
                EXISTS (SELECT 1 FROM uploads u WHERE u.download_id = j.id),
                NOT EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                    WHERE u.download_id = j.id AND uj.state <> 'succeeded')
            FROM jobs j JOIN downloads d ON d.job_id = j.id
            WHERE j.kind = 'download' AND j.state = 'succeeded' AND j.node = ANY(\(nodes))
                AND NOT EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                    WHERE u.download_id = j.id AND uj.state = 'cleaned')
            ORDER BY j.id FOR UPDATE OF j
            """, logger)
        for row in downloads {
            let job = try await PostgresTransition.load(connection, JobID(try row.value(0, as: Int64.self)), logger)
            let (adopted, singleFile) = (try row.value(2, as: Bool.self), try row.value(3, as: Bool.self))
            let (deleteAfter, hasUploads) = (try row.value(4, as: Bool.self), try row.value(5, as: Bool.self))
            let delivered = try row.value(6, as: Bool.self)
            if deleteAfter && hasUploads && delivered {
                let uploads = try await connection.rows(
                    "SELECT job_id FROM uploads WHERE download_id = \(job.id.rawValue) ORDER BY job_id", logger
                ).map { JobID(try $0.value(0, as: Int64.self)) }
                try await markCleaned(
                    uploads,
                    reason:
                        "every upload of download \(job.id) succeeded; its file was on node \(name), which was forgotten",
                    connection, now, logger)
                report.cleaned.append(job.id)
            } else if adopted {
                report.lost.append(job.id)
            } else {
                let pin = singleFile ? job.result.map { ($0.size, $0.sha256) } : nil
                _ = try await refetch(
                    connection, job, pinnedTo: pin,
                    reason: "its file was on node \(name), which was forgotten; fetching it again",
                    previousNode: try row.value(1, as: String.self), policies: policies, now: now, logger)
                report.refetched.append(job.id)
            }
        }
        // A video stored in a node's own folder (an `s3` video store's are reachable from any node).
        report.lost += try await connection.rows(
            """
            SELECT id FROM jobs WHERE kind = 'video' AND state = 'stored' AND node = ANY(\(nodes))
                AND result_location LIKE '/%' ORDER BY id
            """, logger
        ).map { JobID(try $0.value(0, as: Int64.self)) }
    }
}
