import FerryCore
import Foundation
internal import GRDB

extension Job {
    /// Decodes a full `jobs` row (`SELECT *` or `RETURNING *`).
    init(row: Row) throws {
        let kindText: String = row["kind"]
        let stateText: String = row["state"]
        guard let kind = JobKind(rawValue: kindText), let state = JobState(rawValue: stateText) else {
            throw StoreError(.corrupt, "job \(row["id"] as Int64) has an unknown kind or state '\(kindText)/\(stateText)'")
        }
        var lastError: JobFailure?
        if let message: String = row["last_error"] {
            let failureClass = JobFailure.Class(rawValue: row["last_error_class"] ?? "") ?? .retryable
            lastError = JobFailure(code: row["last_error_code"] ?? "unknown", message: message, failureClass: failureClass)
        }
        var result: JobResult?
        if let location: String = row["result_location"] {
            result = JobResult(
                location: location, size: row["result_size"], sha256: row["result_sha256"],
                contentType: row["result_content_type"])
        }
        self.init(
            id: JobID(row["id"] as Int64),
            kind: kind,
            state: state,
            idempotencyKey: row["idempotency_key"],
            priority: row["priority"],
            attempt: row["attempt"],
            maxAttempts: row["max_attempts"],
            owner: (row["owner"] as String?).map(WorkerID.init(rawValue:)),
            createdAt: Date(storeMilliseconds: row["created_at"]),
            updatedAt: Date(storeMilliseconds: row["updated_at"]),
            dueAt: Date(storeMilliseconds: row["due_at"]),
            startedAt: (row["started_at"] as Int64?).map(Date.init(storeMilliseconds:)),
            heartbeatAt: (row["heartbeat_at"] as Int64?).map(Date.init(storeMilliseconds:)),
            finishedAt: (row["finished_at"] as Int64?).map(Date.init(storeMilliseconds:)),
            stateCause: row["state_cause"],
            stateReason: row["state_reason"],
            lastError: lastError,
            progress: JobProgress(bytesDone: row["bytes_done"], bytesTotal: row["bytes_total"]),
            resumeState: row["resume_state"],
            result: result,
            cleanedAt: (row["cleaned_at"] as Int64?).map(Date.init(storeMilliseconds:))
        )
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
