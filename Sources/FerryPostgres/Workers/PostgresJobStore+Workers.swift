public import FerryCore
import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore {
    public func registerWorker(_ worker: WorkerRecord) async throws(StoreError) {
        let logger = logger
        try await write { connection in
            try await connection.run(
                """
                INSERT INTO workers (id, role, slot, pid, started_at, last_heartbeat_at, node)
                VALUES (\(worker.id.rawValue), \(worker.role.rawValue), \(worker.slot), \(worker.pid),
                    \(worker.startedAt.storeMilliseconds), \(worker.lastHeartbeatAt?.storeMilliseconds),
                    NULLIF(current_setting('ferry.node', true), ''))
                """, logger)
        }
    }

    public func recordWorkerExit(_ id: WorkerID, exit: WorkerExit) async throws(StoreError) {
        let logger = logger
        try await write { connection in try await Self.markExited(connection, id, exit: exit, logger) }
    }

    static func markExited(
        _ connection: PostgresConnection, _ id: WorkerID, exit: WorkerExit, _ logger: Logger
    )
        async throws
    {
        let updated = try await connection.row(
            """
            UPDATE workers SET exited_at = GREATEST(\(exit.at.storeMilliseconds), started_at), exit_code = \(exit.exitCode),
                exit_signal = \(exit.signal), exit_reason = \(exit.reason), stderr_tail = \(exit.stderrTail)
            WHERE id = \(id.rawValue) AND exited_at IS NULL
            RETURNING id
            """, logger)
        if updated == nil { throw StoreError(.notFound, "there is no live worker \(id)") }
    }

    public func recordWorkerExit(
        _ id: WorkerID, exit: WorkerExit, requeueingItsJobs reason: String
    )
        async throws(StoreError) -> [RequeuedJob]
    {
        let now = nowMilliseconds
        let logger = logger
        return try await write { connection in
            let requeued = try await Self.releaseAll(connection, ownedBy: id, reason: reason, now: now, logger)
            try await Self.markExited(connection, id, exit: exit, logger)
            return requeued
        }
    }

    public func workers(includeExited: Bool, limit: Int) async throws(StoreError) -> [WorkerRecord] {
        let logger = logger
        return try await read { connection in
            let filter = includeExited ? "" : "WHERE exited_at IS NULL"
            return try await connection.rows(
                PostgresQuery(
                    unsafeSQL: "SELECT \(workerColumns) FROM workers \(filter) ORDER BY started_at DESC, id LIMIT $1",
                    binds: Self.binds(Int64(limit))), logger
            ).map(WorkerRecord.init(postgres:))
        }
    }

    public func checkWritable() async throws(StoreError) {
        let now = nowMilliseconds
        let logger = logger
        try await write { connection in
            try await connection.run(
                "INSERT INTO write_probe (id, at) VALUES (1, \(now)) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                logger)
        }
    }
}
