public import FerryCore
import Foundation
internal import GRDB

/// Group commit: a batch of worker reports, progress, heartbeats and claims in one IMMEDIATE
/// transaction, so one commit (one fsync of the WAL) pays for all of them. Each report and each
/// claim runs in its own savepoint: one that the store refuses is rolled back alone and reported,
/// and the rest of the batch is kept. A failure of the database itself (full disk, I/O error,
/// lock held too long) aborts the whole batch, and nothing of it is applied.
extension SQLiteJobStore {
    public func apply(_ batch: ReportBatch) async throws(StoreError) -> AppliedBatch {
        guard !batch.isEmpty else { return AppliedBatch(reports: [], claims: [], lostProgress: []) }
        // Claims and retry delays below compare and add to due times, which must follow a step first.
        try await applyWallClockStep()
        let now = nowMilliseconds
        let policies = configuration.retryPolicies
        let followUps = configuration.followUps
        let path = configuration.path
        // A result whose hash is not even hex is refused before the transaction, as ``complete(_:)`` does.
        var refusals: [Int: StoreError] = [:]
        for (index, report) in batch.reports.enumerated() {
            if case .completed(let completion) = report { refusals[index] = JobCompletion.malformedResult(completion) }
        }
        let malformed = refusals
        return try await write { db in
            let lost = try Self.recordProgress(db, batch.progress, now: now)
            try Self.recordHeartbeats(db, batch.heartbeats, now: now)
            var effects = [Result<AppliedBatch.Effect, StoreError>?](repeating: nil, count: batch.reports.count)
            for (index, error) in malformed { effects[index] = .failure(error) }
            try Self.completeTogether(db, batch.reports, into: &effects, followUps: followUps, path: path, now: now)
            for (index, report) in batch.reports.enumerated() where effects[index] == nil {
                effects[index] = try Self.isolated(db, path: path, jobID: report.lease.jobID) {
                    switch report {
                    case .completed(let completion):
                        return .completed(
                            try Self.completeWithFollowUps(db, [completion], followUps: followUps, now: now)[0]
                        )
                    case .failed(let lease, let failure, let resumeState):
                        return .failed(
                            try Self.failAttempt(
                                db, lease, with: failure, resumeState: resumeState, policies: policies, now: now))
                    case .stopped(let lease, let reason, let resumeState):
                        return .released(
                            try Self.releaseAttempt(db, lease, reason: reason, resumeState: resumeState, now: now))
                    }
                }
            }
            let claims = try batch.claims.map { request in
                try Self.isolated(db, path: path, jobID: nil) {
                    try Self.claim(db, kind: request.kind, for: request.owner, limit: request.limit, now: now)
                }
            }
            return AppliedBatch(reports: effects.map { $0! }, claims: claims, lostProgress: lost)
        }
    }

    /// The batch's completions in one multi-row statement (the common case: every lease still
    /// holds). When any does not, the statement's savepoint is rolled back and each completion is
    /// left for its own savepoint, so the lost one is refused alone.
    private static func completeTogether(
        _ db: Database, _ reports: [ReportBatch.Report], into effects: inout [Result<AppliedBatch.Effect, StoreError>?],
        followUps: FollowUpUploads, path: String, now: Int64
    ) throws {
        let pending: [(index: Int, completion: JobCompletion)] = reports.enumerated().compactMap { index, report in
            guard effects[index] == nil, case .completed(let completion) = report else { return nil }
            return (index, completion)
        }
        guard pending.count > 1 else { return }
        let together = try isolated(db, path: path, jobID: nil) {
            try completeWithFollowUps(db, pending.map(\.completion), followUps: followUps, now: now)
        }
        guard case .success(let finished) = together else { return }
        for (entry, job) in zip(pending, finished) { effects[entry.index] = .success(.completed(job)) }
    }

    /// Runs `body` in a savepoint. Its writes are kept when it returns; when the store refuses it
    /// (a lost lease, an illegal move, an inconsistent write) they are rolled back and the refusal
    /// is returned. A failure of the database itself is thrown: the whole batch must go.
    private static func isolated<T>(
        _ db: Database, path: String, jobID: JobID?, _ body: () throws -> T
    ) throws -> Result<T, StoreError> {
        var value: T?
        do {
            try db.inSavepoint {
                value = try body()
                return .commit
            }
        } catch {
            let refusal = StoreError.wrapping(error, path: path, jobID: jobID)
            if refusal.isStoreFailure { throw error }
            return .failure(refusal)
        }
        return .success(value!)
    }

    /// Sets the heartbeat time of live workers; a worker that has exited meanwhile is skipped.
    static func recordHeartbeats(_ db: Database, _ workers: [WorkerID], now: Int64) throws {
        guard !workers.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: "UPDATE workers SET last_heartbeat_at = ? WHERE id = ? AND exited_at IS NULL")
        for worker in workers { try statement.execute(arguments: [now, worker.rawValue]) }
    }
}

extension StoreError {
    /// The database itself failed (rather than refusing one write): a batch cannot keep its other
    /// items, since the transaction may be unusable.
    var isStoreFailure: Bool { code == .unavailable || code == .busy || code == .corrupt }
}
