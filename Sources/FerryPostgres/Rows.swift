import FerryCore
import Foundation
import Logging
import PostgresNIO

/// A column value for an assignment built at run time (a transition's extra columns).
typealias Value = (any PostgresDynamicTypeEncodable & Sendable)?

extension PostgresBindings {
    /// Appends `value` (NULL when nil) and returns its placeholder, `$n`.
    mutating func placeholder(_ value: Value) -> String {
        if let value { append(value) } else { appendNull() }
        return "$\(count)"
    }
}

extension PostgresConnection {
    /// Runs `query` and returns every row, for random access by column position.
    func rows(_ query: PostgresQuery, _ logger: Logger) async throws -> [PostgresRandomAccessRow] {
        try await self.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// Runs `query` and returns its first row, if any.
    func row(_ query: PostgresQuery, _ logger: Logger) async throws -> PostgresRandomAccessRow? {
        try await rows(query, logger).first
    }

    func run(_ query: PostgresQuery, _ logger: Logger) async throws {
        _ = try await self.query(query, logger: logger).collect()
    }
}

extension PostgresRandomAccessRow {
    func value<T: PostgresDecodable>(_ index: Int, as type: T.Type = T.self) throws -> T {
        try self[index].decode(T.self)
    }

    func date(_ index: Int) throws -> Date { Date(storeMilliseconds: try value(index, as: Int64.self)) }

    func optionalDate(_ index: Int) throws -> Date? {
        try value(index, as: Int64?.self).map(Date.init(storeMilliseconds:))
    }
}

extension Job {
    /// Decodes a row selected with ``JobColumns/list``.
    init(postgres row: PostgresRandomAccessRow) throws {
        let kindText = try row.value(1, as: String.self)
        let stateText = try row.value(2, as: String.self)
        guard let kind = JobKind(rawValue: kindText), let state = JobState(rawValue: stateText) else {
            throw StoreError(
                .corrupt,
                "job \(try row.value(0, as: Int64.self)) has an unknown kind or state '\(kindText)/\(stateText)'")
        }
        var lastError: JobFailure?
        if let message = try row.value(16, as: String?.self) {
            let failureClass = JobFailure.Class(rawValue: try row.value(18, as: String?.self) ?? "") ?? .retryable
            lastError = JobFailure(
                code: try row.value(17, as: String?.self) ?? "unknown", message: message, failureClass: failureClass)
        }
        var result: JobResult?
        if let location = try row.value(22, as: String?.self) {
            result = JobResult(
                location: location, size: try row.value(23), sha256: try row.value(24),
                contentType: try row.value(25, as: String?.self))
        }
        self.init(
            id: JobID(try row.value(0, as: Int64.self)),
            kind: kind,
            state: state,
            idempotencyKey: try row.value(3),
            priority: try row.value(4),
            attempt: try row.value(5),
            maxAttempts: try row.value(6),
            owner: try row.value(7, as: String?.self).map(WorkerID.init(rawValue:)),
            createdAt: try row.date(8),
            updatedAt: try row.date(9),
            dueAt: try row.date(10),
            startedAt: try row.optionalDate(11),
            heartbeatAt: try row.optionalDate(12),
            finishedAt: try row.optionalDate(13),
            stateCause: try row.value(14),
            stateReason: try row.value(15),
            lastError: lastError,
            progress: JobProgress(bytesDone: try row.value(19), bytesTotal: try row.value(20)),
            resumeState: try row.value(21),
            result: result,
            cleanedAt: try row.optionalDate(26),
            lane: try row.value(27)
        )
    }
}

/// The columns of `job_events` in the order ``JobEvent/init(postgres:)`` decodes them.
let eventColumns = "id, job_id, at, from_state, to_state, cause, reason, owner, attempt"

extension JobEvent {
    init(postgres row: PostgresRandomAccessRow) throws {
        let id = try row.value(0, as: Int64.self)
        guard let to = JobState(rawValue: try row.value(4, as: String.self)) else {
            throw StoreError(.corrupt, "event \(id) names an unknown state")
        }
        self.init(
            id: id, jobID: JobID(try row.value(1, as: Int64.self)), at: try row.date(2),
            from: try row.value(3, as: String?.self).flatMap(JobState.init(rawValue:)), to: to,
            cause: try row.value(5), reason: try row.value(6),
            owner: try row.value(7, as: String?.self).map(WorkerID.init(rawValue:)), attempt: try row.value(8))
    }
}

/// The columns of `workers` in the order ``WorkerRecord/init(postgres:)`` decodes them.
let workerColumns =
    "id, role, slot, pid, started_at, last_heartbeat_at, exited_at, exit_code, exit_signal, exit_reason, stderr_tail"

extension WorkerRecord {
    init(postgres row: PostgresRandomAccessRow) throws {
        let id = try row.value(0, as: String.self)
        guard let role = WorkerRole(rawValue: try row.value(1, as: String.self)) else {
            throw StoreError(.corrupt, "worker \(id) has an unknown role")
        }
        var exit: WorkerExit?
        if let exitedAt = try row.optionalDate(6) {
            exit = WorkerExit(
                at: exitedAt, exitCode: try row.value(7, as: Int32?.self),
                signal: try row.value(8, as: Int32?.self), reason: try row.value(9, as: String?.self) ?? "",
                stderrTail: try row.value(10))
        }
        self.init(
            id: WorkerID(id), role: role, slot: try row.value(2), pid: try row.value(3, as: Int32?.self),
            startedAt: try row.date(4), lastHeartbeatAt: try row.optionalDate(5), exit: exit)
    }
}
