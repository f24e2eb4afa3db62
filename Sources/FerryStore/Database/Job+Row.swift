import FerryCore
import Foundation
internal import GRDB

extension Job {
    /// Decodes a row selected with ``JobColumns/list``.
    init(row: Row) throws {
        let kindText: String = row[1]
        let stateText: String = row[2]
        guard let kind = JobKind(rawValue: kindText), let state = JobState(rawValue: stateText) else {
            throw StoreError(.corrupt, "job \(row[0] as Int64) has an unknown kind or state '\(kindText)/\(stateText)'")
        }
        var lastError: JobFailure?
        if let message: String = row.optional(16) {
            let failureClass = JobFailure.Class(rawValue: row.optional(18) ?? "") ?? .retryable
            lastError = JobFailure(code: row.optional(17) ?? "unknown", message: message, failureClass: failureClass)
        }
        var result: JobResult?
        if let location: String = row.optional(22) {
            result = JobResult(location: location, size: row[23], sha256: row[24], contentType: row.optional(25))
        }
        self.init(
            id: JobID(row[0] as Int64),
            kind: kind,
            state: state,
            idempotencyKey: row.optional(3),
            priority: row[4],
            attempt: row[5],
            maxAttempts: row[6],
            owner: (row.optional(7) as String?).map(WorkerID.init(rawValue:)),
            createdAt: Date(storeMilliseconds: row[8]),
            updatedAt: Date(storeMilliseconds: row[9]),
            dueAt: Date(storeMilliseconds: row[10]),
            startedAt: row.optionalDate(11),
            heartbeatAt: row.optionalDate(12),
            finishedAt: row.optionalDate(13),
            stateCause: row[14],
            stateReason: row.optional(15),
            lastError: lastError,
            progress: JobProgress(bytesDone: row[19], bytesTotal: row.optional(20)),
            resumeState: row.optional(21),
            result: result,
            cleanedAt: row.optionalDate(26),
            lane: row.optional(27)
        )
    }
}

extension Row {
    /// The value at `index`, or nil for NULL. Checking for NULL first keeps decoding on GRDB's
    /// specialised fast path; decoding an Optional goes through generic metadata look-ups that
    /// cost more than the SQL on the claim and complete paths.
    @inline(__always)
    func optional<Value: DatabaseValueConvertible & StatementColumnConvertible>(_ index: Int) -> Value? {
        hasNull(atIndex: index) ? nil : (self[index] as Value)
    }

    /// A store timestamp at `index`, or nil for NULL.
    @inline(__always)
    func optionalDate(_ index: Int) -> Date? {
        hasNull(atIndex: index) ? nil : Date(storeMilliseconds: self[index])
    }
}

extension JobEvent {
    init(row: Row) throws {
        guard let to = JobState(rawValue: row["to_state"]) else {
            throw StoreError(.corrupt, "event \(row["id"] as Int64) names an unknown state")
        }
        self.init(
            id: row["id"],
            jobID: JobID(row["job_id"] as Int64),
            at: Date(storeMilliseconds: row["at"]),
            from: (row["from_state"] as String?).flatMap(JobState.init(rawValue:)),
            to: to,
            cause: row["cause"],
            reason: row["reason"],
            owner: (row["owner"] as String?).map(WorkerID.init(rawValue:)),
            attempt: row["attempt"]
        )
    }
}

extension WorkerRecord {
    init(row: Row) throws {
        guard let role = WorkerRole(rawValue: row["role"]) else {
            throw StoreError(.corrupt, "worker \(row["id"] as String) has an unknown role")
        }
        var exit: WorkerExit?
        if let exitedAt: Int64 = row["exited_at"] {
            exit = WorkerExit(
                at: Date(storeMilliseconds: exitedAt), exitCode: row["exit_code"], signal: row["exit_signal"],
                reason: row["exit_reason"], stderrTail: row["stderr_tail"])
        }
        self.init(
            id: WorkerID(row["id"] as String), role: role, slot: row["slot"], pid: row["pid"],
            startedAt: Date(storeMilliseconds: row["started_at"]),
            lastHeartbeatAt: (row["last_heartbeat_at"] as Int64?).map(Date.init(storeMilliseconds:)),
            exit: exit)
    }
}
