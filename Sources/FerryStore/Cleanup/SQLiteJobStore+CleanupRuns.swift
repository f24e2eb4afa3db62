public import FerryCore
import Foundation
internal import GRDB

/// The record of cleanup runs: at most one runs at a time (a unique index on the running state),
/// so asking for a run while one is under way returns that run instead of starting a second.
extension SQLiteJobStore {
    /// Starts a run, or returns the one already running (`started` false).
    public func beginCleanupRun(
        trigger: CleanupRun.Trigger, dryRun: Bool
    ) async throws(StoreError) -> (run: CleanupRun, started: Bool) {
        let now = nowMilliseconds
        return try await write { db in
            if let running = try Row.fetchOne(db, sql: Self.runSelect + " WHERE state = 'running'") {
                return (try Self.run(running), false)
            }
            try db.execute(
                sql: "INSERT INTO cleanup_runs (trigger, dry_run, state, started_at) VALUES (?, ?, 'running', ?)",
                arguments: [trigger.rawValue, dryRun ? 1 : 0, now])
            let row = try Row.fetchOne(db, sql: Self.runSelect + " WHERE id = ?", arguments: [db.lastInsertedRowID])!
            return (try Self.run(row), true)
        }
    }

    /// Records what a run found and did.
    public func finishCleanupRun(_ id: Int64, report: CleanupReport) async throws(StoreError) -> CleanupRun {
        let now = nowMilliseconds
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: (try? encoder.encode(report)) ?? Data("{}".utf8), as: UTF8.self)
        return try await endRun(id, state: "succeeded", column: "report", value: json, at: now)
    }

    /// Records why a run could not finish.
    public func failCleanupRun(_ id: Int64, error: String) async throws(StoreError) -> CleanupRun {
        try await endRun(id, state: "failed", column: "error", value: error, at: nowMilliseconds)
    }

    /// Runs left `running` by a supervisor that died: they will never finish.
    public func abandonCleanupRuns(reason: String) async throws(StoreError) {
        let now = nowMilliseconds
        try await write { db in
            try db.execute(
                sql:
                    "UPDATE cleanup_runs SET state = 'failed', finished_at = max(?, started_at), error = ? WHERE state = 'running'",
                arguments: [now, reason])
        }
    }

    /// The latest run, if any.
    public func lastCleanupRun() async throws(StoreError) -> CleanupRun? {
        try await read { db in
            try Row.fetchOne(db, sql: Self.runSelect + " ORDER BY id DESC LIMIT 1").map(Self.run)
        }
    }

    public func cleanupRun(_ id: Int64) async throws(StoreError) -> CleanupRun? {
        try await read { db in
            try Row.fetchOne(db, sql: Self.runSelect + " WHERE id = ?", arguments: [id]).map(Self.run)
        }
    }

    private func endRun(
        _ id: Int64, state: String, column: String, value: String, at now: Int64
    ) async throws(StoreError) -> CleanupRun {
        try await write { db in
            try db.execute(
                sql:
                    "UPDATE cleanup_runs SET state = ?, finished_at = max(?, started_at), \(column) = ? WHERE id = ? AND state = 'running'",
                arguments: [state, now, value, id])
            guard db.changesCount == 1 else {
                throw StoreError(.illegalTransition, "cleanup run \(id) is not running")
            }
            return try Self.run(try Row.fetchOne(db, sql: Self.runSelect + " WHERE id = ?", arguments: [id])!)
        }
    }

    static let runSelect =
        "SELECT id, trigger, dry_run, state, started_at, finished_at, report, error FROM cleanup_runs"

    static func run(_ row: Row) throws -> CleanupRun {
        let report: CleanupReport? = try (row[6] as String?).map {
            try JSONDecoder().decode(CleanupReport.self, from: Data($0.utf8))
        }
        return CleanupRun(
            id: row[0], trigger: CleanupRun.Trigger(rawValue: row[1]) ?? .request, dryRun: (row[2] as Int64) == 1,
            state: CleanupRun.State(rawValue: row[3]) ?? .failed, startedAt: Date(storeMilliseconds: row[4]),
            finishedAt: (row[5] as Int64?).map(Date.init(storeMilliseconds:)), report: report, error: row[7])
    }
}
