public import FerryCore
import Foundation
import Logging
import PostgresNIO

/// Group commit on PostgreSQL: a batch of worker reports, progress, heartbeats and claims in one
/// transaction (one commit, one WAL flush on the server), as the SQLite store does it: a refused
/// report or claim is rolled back alone and reported; a failure of the database itself aborts the
/// whole batch. The batch is first applied without savepoints (two round trips fewer for each
/// report and claim); only when something in it is refused is it undone and applied again with
/// each report and claim in a savepoint of its own.
extension PostgresJobStore {
    public func apply(_ batch: ReportBatch) async throws(StoreError) -> AppliedBatch {
        guard !batch.isEmpty else { return AppliedBatch(reports: [], claims: [], lostProgress: []) }
        var refusals: [Int: StoreError] = [:]
        for (index, report) in batch.reports.enumerated() {
            if case .completed(let completion) = report { refusals[index] = JobCompletion.malformedResult(completion) }
        }
        if refusals.isEmpty {
            do {
                return try await apply(batch, malformed: [:], isolating: false)
            } catch {
                if error.isStoreFailure { throw error }
                // Refused: nothing of the batch was kept; each item in its own savepoint below.
            }
        }
        return try await apply(batch, malformed: refusals, isolating: true)
    }

    /// Applies the batch in one transaction; with `isolating`, each report and claim in a
    /// savepoint, so a refusal fails that item alone; without, a refusal is thrown (undoing all).
    private func apply(
        _ batch: ReportBatch, malformed: [Int: StoreError], isolating: Bool
    ) async throws(StoreError) -> AppliedBatch {
        let now = nowMilliseconds
        let policies = configuration.retryPolicies
        let followUps = configuration.followUps
        let store = configuration.description
        let logger = logger
        return try await write { connection in
            let lost = try await Self.recordProgress(connection, batch.progress, now: now, logger)
            for worker in batch.heartbeats {
                try await connection.run(
                    "UPDATE workers SET last_heartbeat_at = \(now) WHERE id = \(worker.rawValue) AND exited_at IS NULL",
                    logger)
            }
            var effects = [Result<AppliedBatch.Effect, StoreError>?](repeating: nil, count: batch.reports.count)
            for (index, error) in malformed { effects[index] = .failure(error) }
            // The common case first: every completion's lease holds, one statement for them all.
            let pending: [(index: Int, completion: JobCompletion)] = batch.reports.enumerated().compactMap {
                index, report in
                guard effects[index] == nil, case .completed(let completion) = report else { return nil }
                return (index, completion)
            }
            if pending.count > 1 {
                let together = try await Self.isolated(connection, isolating, store: store, jobID: nil, logger) {
                    try await Self.completeWithFollowUps(
                        connection, pending.map(\.completion), followUps: followUps, now: now, logger)
                }
                if case .success(let finished) = together {
                    for (entry, job) in zip(pending, finished) { effects[entry.index] = .success(.completed(job)) }
                }
            }
            for (index, report) in batch.reports.enumerated() where effects[index] == nil {
                effects[index] = try await Self.isolated(
                    connection, isolating, store: store, jobID: report.lease.jobID, logger
                ) {
                    switch report {
                    case .completed(let completion):
                        return .completed(
                            try await Self.completeWithFollowUps(
                                connection, [completion], followUps: followUps, now: now, logger)[0])
                    case .failed(let lease, let failure, let resumeState):
                        return .failed(
                            try await Self.failAttempt(
                                connection, lease, with: failure, resumeState: resumeState, policies: policies,
                                now: now, logger))
                    case .stopped(let lease, let reason, let resumeState):
                        return .released(
                            try await Self.releaseAttempt(
                                connection, lease, reason: reason, resumeState: resumeState, now: now, logger))
                    }
                }
            }
            var claims: [Result<[ClaimedJob], StoreError>] = []
            for request in batch.claims {
                claims.append(
                    try await Self.isolated(connection, isolating, store: store, jobID: nil, logger) {
                        try await Self.claim(
                            connection, kind: request.kind, for: request.owner, limit: request.limit, now: now, logger)
                    })
            }
            return AppliedBatch(reports: effects.map { $0! }, claims: claims, lostProgress: lost)
        }
    }

    /// Runs `body` in a savepoint: kept when it returns, rolled back and returned as a refusal
    /// when the store refuses it; a failure of the database itself is thrown. Without `isolating`,
    /// no savepoint: a refusal is thrown too, and undoes the whole transaction.
    static func isolated<T>(
        _ connection: PostgresConnection, _ isolating: Bool, store: String, jobID: JobID?, _ logger: Logger,
        _ body: () async throws -> T
    ) async throws -> Result<T, StoreError> {
        guard isolating else { return .success(try await body()) }
        try await connection.run("SAVEPOINT report", logger)
        do {
            let value = try await body()
            try await connection.run("RELEASE SAVEPOINT report", logger)
            return .success(value)
        } catch {
            let refusal = StoreError.wrapping(error, store: store, jobID: jobID)
            if refusal.isStoreFailure { throw error }
            try await connection.run("ROLLBACK TO SAVEPOINT report", logger)
            try await connection.run("RELEASE SAVEPOINT report", logger)
            return .failure(refusal)
        }
    }
}

extension StoreError {
    /// The database itself failed (rather than refusing one write): a batch cannot keep its other items.
    var isStoreFailure: Bool { code == .unavailable || code == .busy || code == .corrupt || code == .nodeFenced }
}
