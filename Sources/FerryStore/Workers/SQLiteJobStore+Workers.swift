public import FerryCore
import Foundation
internal import GRDB

extension SQLiteJobStore {
    public func registerWorker(_ worker: WorkerRecord) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO workers (id, role, slot, pid, started_at, last_heartbeat_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    worker.id.rawValue, worker.role.rawValue, worker.slot, worker.pid,
                    worker.startedAt.storeMilliseconds, worker.lastHeartbeatAt?.storeMilliseconds,
                ])
        }
    }

    public func recordWorkerExit(_ id: WorkerID, exit: WorkerExit) async throws(StoreError) {
        try await write { db in try Self.markExited(db, id, exit: exit) }
    }

    static func markExited(_ db: Database, _ id: WorkerID, exit: WorkerExit) throws {
        try db.execute(
            sql: """
                UPDATE workers SET exited_at = MAX(?, started_at), exit_code = ?, exit_signal = ?, exit_reason = ?,
                    stderr_tail = ?
                WHERE id = ? AND exited_at IS NULL
                """,
            arguments: [
                exit.at.storeMilliseconds, exit.exitCode, exit.signal, exit.reason, exit.stderrTail, id.rawValue,
            ])
        if db.changesCount == 0 {
            throw StoreError(.notFound, "there is no live worker \(id)")
        }
    }

    public func recordWorkerExit(
        _ id: WorkerID, exit: WorkerExit, requeueingItsJobs reason: String
    )
        async throws(StoreError) -> [RequeuedJob]
    {
        let now = nowMilliseconds
        return try await write { db in
            let ids = try Int64.fetchAll(
                db.cachedStatement(sql: "\(Self.runningJobs) AND owner = ? ORDER BY id"), arguments: [id.rawValue])
            let requeued = try ids.map { job in try Self.release(db, JobID(job), reason: reason, now: now) }
            try Self.markExited(db, id, exit: exit)
            return requeued
        }
    }

    public func workers(includeExited: Bool, limit: Int) async throws(StoreError) -> [WorkerRecord] {
        try await read { db in
            let filter = includeExited ? "" : "WHERE exited_at IS NULL"
            return try Row.fetchAll(
                db, sql: "SELECT * FROM workers \(filter) ORDER BY started_at DESC, id LIMIT ?", arguments: [limit]
            ).map(WorkerRecord.init(row:))
        }
    }
}
