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

    public func recordWorkerHeartbeat(_ id: WorkerID) async throws(StoreError) {
        let now = nowMilliseconds
        try await write { db in
            try db.execute(
                sql: "UPDATE workers SET last_heartbeat_at = ? WHERE id = ? AND exited_at IS NULL",
                arguments: [now, id.rawValue])
            if db.changesCount == 0 {
                throw StoreError(.notFound, "there is no live worker \(id)")
            }
        }
    }

    public func recordWorkerExit(_ id: WorkerID, exit: WorkerExit) async throws(StoreError) {
        try await write { db in
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
