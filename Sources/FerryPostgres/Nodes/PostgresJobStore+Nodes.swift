public import FerryCore
import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore: SharedQueue {
    public var nodeIdentity: NodeIdentity? { configuration.node }

    var node: NodeIdentity {
        get throws(StoreError) {
            guard let node = configuration.node else {
                throw StoreError(.invalidInput, "this store was opened without a node identity (configuration.node)")
            }
            return node
        }
    }

    /// Enters the cluster: this incarnation's row, with a first lease. Registrations of one name
    /// take turns (an advisory lock), so two machines starting under one name cannot both pass
    /// the check for a live incarnation working in another home.
    public func registerNode() async throws(StoreError) {
        let node = try node
        let logger = logger
        let holder = try await write { connection -> (id: String, address: String?, left: Double)? in
            try await connection.run("SELECT pg_advisory_xact_lock(hashtext('ferry node ' || \(node.name)))", logger)
            if let home = node.home,
                let live = try await connection.row(
                    """
                    SELECT id, address, extract(epoch FROM lease_expires_at - clock_timestamp())::float8 FROM nodes
                    WHERE name = \(node.name) AND stopped_at IS NULL AND lease_expires_at > clock_timestamp()
                        AND home IS NOT NULL AND home <> \(home)
                    ORDER BY started_at DESC LIMIT 1
                    """, logger)
            {
                return (try live.value(0), try live.value(1), try live.value(2))
            }
            try await connection.run(
                """
                INSERT INTO nodes (id, name, address, lease_expires_at, home)
                VALUES (\(node.id), \(node.name), \(node.address),
                    clock_timestamp() + make_interval(secs => \(node.lease.seconds)), \(node.home))
                """, logger)
            return nil
        }
        if let holder {
            throw StoreError(
                .conflict,
                "the node name '\(node.name)' is taken by a live node (\(holder.id)\(holder.address.map { " at \($0)" } ?? "")) that works in another state folder: give each node its own cluster.node_name (or FERRY_CLUSTER_NODE_NAME); if that node was this one before its state folder moved, start again once its lease has run out (in \(Int(holder.left.rounded(.up))) s)"
            )
        }
    }

    /// Renews this node's lease; returns the time it now has left. Throws `node_fenced` when the
    /// lease had already run out (or the node was declared stopped): the node must stop at once.
    ///
    /// It runs on the node's own connection (``LeaseSession``), never waiting for the pool, and
    /// answers by the call deadline or as soon as the caller gives up (a cancelled task).
    /// Registering and stopping the node use the pool: the first comes before the node does any
    /// work, so the pool is idle, and the second after its workers stopped, when a late stop only
    /// means other nodes wait for the lease to run out.
    @discardableResult
    public func renewLease() async throws(StoreError) -> Duration {
        let node = try node
        let logger = logger
        guard let leaseSession else {
            throw StoreError(.invalidInput, "this store was opened without a node identity (configuration.node)")
        }
        let left: Double?
        do {
            // One statement in its own transaction: safe to send again on a fresh connection.
            left = try await leaseSession.run(within: configuration.callTimeout) { connection in
                try await connection.row(
                    """
                    UPDATE nodes SET lease_expires_at = clock_timestamp() + make_interval(secs => \(node.lease.seconds))
                    WHERE id = \(node.id) AND stopped_at IS NULL AND lease_expires_at > clock_timestamp()
                    RETURNING extract(epoch FROM lease_expires_at - clock_timestamp())::float8
                    """, logger)?.value(0, as: Double.self)
            }
        } catch {
            throw StoreError.wrapping(error, store: configuration.description)
        }
        guard let left else {
            throw StoreError(
                .nodeFenced,
                "node \(node.id) could not renew its lease in time: its work is being taken over, so it stops")
        }
        return .milliseconds(Int64(left * 1000))
    }

    /// Leaves the cluster cleanly (after its workers' jobs were released): other nodes need not wait
    /// for the lease to run out.
    public func stopNode(reason: String) async throws(StoreError) {
        let node = try node
        let logger = logger
        try await write { connection in
            try await connection.run(
                """
                UPDATE nodes SET stopped_at = clock_timestamp(), stop_reason = \(reason)
                WHERE id = \(node.id) AND stopped_at IS NULL
                """, logger)
        }
    }

    /// Declares every node whose lease ran out dead and puts back what its workers held
    /// (leaderless: any live node may run it, and two racing do each job once), and sends the
    /// downloads whose files died with it to be fetched again where uploads still wait for them.
    /// Returns the jobs put back, with their previous owner (for a refetched download: the node).
    ///
    /// It never waits for a row lock: a frozen node's open transaction holds its rows until the
    /// server ends it (within a lease, `idle_in_transaction_session_timeout`), and waiting for it
    /// here held up the live node's next renewal until that node fenced itself (the chaos suite's
    /// cluster scenario, seed 36). What is locked is skipped, and taken on a later pass.
    public func takeOverDeadNodes() async throws(StoreError) -> [RequeuedJob] {
        let now = nowMilliseconds
        let policies = configuration.retryPolicies
        let logger = logger
        return try await write { connection in
            let dead = try await connection.rows(
                """
                UPDATE nodes SET stopped_at = clock_timestamp(), stop_reason = 'lease expired'
                WHERE id IN (SELECT id FROM nodes WHERE stopped_at IS NULL AND lease_expires_at <= clock_timestamp()
                    FOR UPDATE SKIP LOCKED)
                RETURNING id
                """, logger
            ).map { try $0.value(0, as: String.self) }
            // Stopped nodes whose workers are not all recorded gone: those that stopped without
            // leaving cleanly, and those whose jobs an earlier pass found locked.
            let stopped = try await connection.rows(
                "SELECT id FROM nodes WHERE stopped_at IS NOT NULL AND id IN (SELECT node FROM workers WHERE exited_at IS NULL)",
                logger
            ).map { try $0.value(0, as: String.self) }
            try await Self.failStrandedUploads(connection, now: now, logger)
            let nodes = Array(Set(dead + stopped)).sorted()
            let released =
                nodes.isEmpty
                ? []
                : try await Self.releaseJobs(
                    connection, ofNodes: nodes, reason: "its node stopped renewing its lease", exitReason: "node_lost",
                    now: now, logger)
            return released + (try await Self.refetchLostFiles(connection, policies: policies, now: now, logger))
        }
    }

    /// Uploads still queued for a download that ended failed or cancelled (a refetch after its
    /// node died that failed for good, a download cancelled meanwhile) would wait for ever: they
    /// fail, saying why and what to do. What SQLite's pending scan does for a vanished source; here
    /// every live node does it with each renewal, and a node racing another skips what it failed.
    static func failStrandedUploads(_ connection: PostgresConnection, now: Int64, _ logger: Logger) async throws {
        let rows = try await connection.rows(
            """
            SELECT uj.id, d.id, d.state FROM jobs uj JOIN uploads u ON u.job_id = uj.id JOIN jobs d ON d.id = u.download_id
            WHERE uj.kind = 'upload' AND uj.state = 'queued' AND d.state IN ('failed', 'cancelled')
            ORDER BY uj.id FOR UPDATE OF uj SKIP LOCKED
            """, logger)
        for row in rows {
            let upload = try await PostgresTransition.load(
                connection, JobID(try row.value(0, as: Int64.self)), logger)
            guard upload.state == .queued else { continue }
            let download = try row.value(1, as: Int64.self)
            let failure = JobFailure.permanent(
                "source_missing",
                "its download \(download) ended \(try row.value(2, as: String.self)), so its file will not come; retry the download, then this upload"
            )
            let move = PostgresTransition(
                command: .fail, reason: "\(failure.code): \(failure.message)",
                assignments: [
                    ("last_error", failure.message), ("last_error_code", failure.code),
                    ("last_error_class", failure.failureClass.rawValue),
                ])
            _ = try await move.apply(connection, to: upload, now: now, logger)
        }
    }

    /// Downloads whose file was on a dead node and whose uploads still wait for it go back to be
    /// fetched again from their source by a live node (their uploads follow the new file). A
    /// download adopted from a file has no source and stays; its uploads cannot run anywhere.
    ///
    /// Some targets may already hold the lost file: the new fetch must bring back the same bytes,
    /// so a single-file download (http(s) through Ferry's own client) is pinned to the lost
    /// file's size and SHA-256 when it named none; a source that changed meanwhile then fails
    /// clearly (`checksum_mismatch`), and its waiting uploads with it, instead of sending other
    /// bytes to the remaining targets (found by the chaos suite's cluster scenario).
    /// The files are looked for on every node whose lease ran out (such a node never comes back:
    /// a restart is a new incarnation), so a download skipped while locked, or whose upload is
    /// retried later, is fetched again on a later pass.
    static func refetchLostFiles(
        _ connection: PostgresConnection, policies: RetryPolicies, now: Int64, _ logger: Logger
    ) async throws -> [RequeuedJob] {
        let rows = try await connection.rows(
            """
            SELECT j.id, j.node, j.result_size, j.result_sha256,
                d.url ~ '^https?://' AND (d.engine IS NULL OR d.engine = 'ferry') AS single_file
            FROM jobs j JOIN downloads d ON d.job_id = j.id
            WHERE j.kind = 'download' AND j.state = 'succeeded' AND d.url NOT LIKE 'file:%'
                AND j.node IN (SELECT id FROM nodes WHERE stop_reason IN ('lease expired', 'forgotten'))
                AND EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                    WHERE u.download_id = j.id AND uj.state IN ('queued', 'running', 'paused'))
            ORDER BY j.id FOR UPDATE OF j SKIP LOCKED
            """, logger)
        var refetched: [RequeuedJob] = []
        for row in rows {
            let job = try await PostgresTransition.load(connection, JobID(try row.value(0, as: Int64.self)), logger)
            let node = try row.value(1, as: String.self)
            let pin: (Int64, String)? =
                if try row.value(4, as: Bool.self), let size = try row.value(2, as: Int64?.self),
                    let sha256 = try row.value(3, as: String?.self)
                { (size, sha256) } else { nil }
            refetched.append(
                try await refetch(
                    connection, job, pinnedTo: pin,
                    reason: "its file was on node \(node), which is gone; fetching it again",
                    previousNode: node, policies: policies, now: now, logger))
        }
        return refetched
    }

    /// Sends a succeeded download whose file is lost back to be fetched again (its uploads follow
    /// the new file), pinned to the lost file's size and SHA-256 when `pin` is given and the
    /// download named none.
    static func refetch(
        _ connection: PostgresConnection, _ job: Job, pinnedTo pin: (size: Int64, sha256: String)?, reason: String,
        previousNode node: String, policies: RetryPolicies, now: Int64, _ logger: Logger
    ) async throws -> RequeuedJob {
        if let pin {
            try await connection.run(
                """
                UPDATE downloads SET expected_size = COALESCE(expected_size, \(pin.size)),
                    expected_sha256 = COALESCE(expected_sha256, \(pin.sha256))
                WHERE job_id = \(job.id.rawValue)
                """, logger)
        }
        let move = refetchMove(of: job, reason: reason, policies: policies, now: now)
        return RequeuedJob(
            job: try await move.apply(connection, to: job, now: now, logger), previousOwner: WorkerID(node))
    }

    /// The move that sends a job whose file is lost back to be fetched: its result, resume state
    /// and node cleared, due now, with a fresh set of attempts.
    static func refetchMove(of job: Job, reason: String, policies: RetryPolicies, now: Int64) -> PostgresTransition {
        PostgresTransition(
            command: .refetch, reason: reason,
            assignments: [
                ("result_location", nil), ("result_size", nil), ("result_sha256", nil),
                ("result_content_type", nil), ("resume_state", nil), ("due_at", now),
                ("max_attempts", job.attempt + policies[job.kind].maxAttempts), ("bytes_done", Int64(0)),
                ("node", nil),
            ])
    }

    /// Start-up recovery for a node: earlier incarnations of the same name are stopped and what
    /// their workers held goes back to the queue. Other nodes' work is never touched.
    ///
    /// A name stands for a state folder: the files its earlier incarnations fetched or stored are
    /// this one's now, so their uploads and clean-ups become claimable here.
    func recoverEarlierIncarnations(of node: NodeIdentity, reason: String) async throws(StoreError) -> [RequeuedJob] {
        let now = nowMilliseconds
        let logger = logger
        return try await write { connection in
            // Only incarnations of this home (or of none recorded): a dead node that had this name
            // in another state folder held files that are not here; the take-over deals with it.
            let home = node.home
            try await connection.run(
                """
                UPDATE jobs SET node = \(node.id)
                WHERE node IN (
                    SELECT id FROM nodes WHERE name = \(node.name) AND id <> \(node.id)
                        AND (home IS NULL OR \(home)::text IS NULL OR home = \(home)))
                """, logger)
            let earlier = try await connection.rows(
                """
                UPDATE nodes SET stopped_at = COALESCE(stopped_at, clock_timestamp()),
                    stop_reason = COALESCE(stop_reason, 'superseded by ' || \(node.id))
                WHERE name = \(node.name) AND id <> \(node.id)
                    AND (home IS NULL OR \(home)::text IS NULL OR home = \(home))
                    AND (stopped_at IS NULL OR id IN (SELECT node FROM workers WHERE exited_at IS NULL))
                RETURNING id
                """, logger
            ).map { try $0.value(0, as: String.self) }
            guard !earlier.isEmpty else { return [] }
            return try await Self.releaseJobs(
                connection, ofNodes: earlier, reason: reason, exitReason: "supervisor_restart", now: now, logger)
        }
    }

    /// Puts back every running job held by the workers of `nodes` and records those workers as
    /// exited, in the connection's transaction. Rows are locked in id order; a job another node
    /// has just put back no longer matches and is skipped. A job or worker another transaction
    /// holds is left for a later pass: its worker stays recorded live, so the next pass looks at
    /// its node again.
    static func releaseJobs(
        _ connection: PostgresConnection, ofNodes nodes: [String], reason: String, exitReason: String, now: Int64,
        _ logger: Logger
    ) async throws -> [RequeuedJob] {
        let rows = try await connection.rows(
            """
            SELECT id FROM jobs WHERE state IN ('running', 'storing')
                AND owner IN (SELECT id FROM workers WHERE node = ANY(\(nodes)))
            ORDER BY id FOR UPDATE SKIP LOCKED
            """, logger)
        var released: [RequeuedJob] = []
        for row in rows {
            released.append(
                try await release(connection, JobID(try row.value(0, as: Int64.self)), reason: reason, now: now, logger)
            )
        }
        try await connection.run(
            """
            UPDATE workers SET exited_at = GREATEST(\(now), started_at), exit_reason = \(exitReason)
            WHERE id IN (SELECT w.id FROM workers w WHERE w.node = ANY(\(nodes)) AND w.exited_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.owner = w.id AND jobs.state IN ('running', 'storing'))
                FOR UPDATE SKIP LOCKED)
            """, logger)
        return released
    }

    public func fileNodes(of ids: [JobID]) async throws(StoreError) -> [JobID: String] {
        guard !ids.isEmpty else { return [:] }
        let logger = logger
        let raw = ids.map(\.rawValue)
        return try await read { connection in
            var nodes: [JobID: String] = [:]
            for row in try await connection.rows(
                "SELECT id, node FROM jobs WHERE id = ANY(\(raw)) AND node IS NOT NULL", logger)
            {
                nodes[JobID(try row.value(0, as: Int64.self))] = try row.value(1, as: String.self)
            }
            return nodes
        }
    }

    /// The nodes: every one not stopped, and those stopped within a day (each start of a node is a
    /// new row), live ones first.
    public func cluster() async throws(StoreError) -> [ClusterNode] {
        let logger = logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT n.id, n.name, n.address, extract(epoch FROM n.lease_expires_at - clock_timestamp())::float8,
                    n.stop_reason,
                    (SELECT count(*) FROM workers w WHERE w.node = n.id AND w.exited_at IS NULL),
                    (SELECT count(*) FROM jobs j JOIN workers w ON w.id = j.owner WHERE w.node = n.id)
                FROM nodes n WHERE n.stopped_at IS NULL OR n.stopped_at > clock_timestamp() - interval '1 day'
                ORDER BY n.stopped_at IS NOT NULL, n.name, n.started_at DESC
                """, logger
            ).map { row in
                ClusterNode(
                    id: try row.value(0), name: try row.value(1), address: try row.value(2),
                    leaseLeft: .milliseconds(Int64(try row.value(3, as: Double.self) * 1000)),
                    stopReason: try row.value(4), liveWorkers: Int(try row.value(5, as: Int64.self)),
                    jobsHeld: Int(try row.value(6, as: Int64.self)))
            }
        }
    }
}

extension Duration {
    /// Whole and fractional seconds, for intervals in SQL.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
