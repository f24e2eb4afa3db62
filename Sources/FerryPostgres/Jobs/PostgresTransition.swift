import FerryCore
import Foundation
import Logging
import PostgresNIO

/// One compare-and-set move of one job inside a transaction, as the SQLite store's
/// `JobTransition`: read the job `FOR UPDATE`, check the caller's lease and the lifecycle, then
/// `UPDATE … WHERE id = $ AND state = $` with the columns the new state requires. The schema's
/// trigger checks the move again and logs it.
struct PostgresTransition {
    var command: JobCommand
    var reason: String?
    /// When set, the job must be running under exactly this lease.
    var lease: JobLease?
    /// Column assignments beyond those every transition makes.
    var assignments: [(column: String, value: Value)] = []

    /// Loads a job and locks its row until the transaction ends, or throws `not_found`.
    static func load(
        _ connection: PostgresConnection, _ id: JobID, _ logger: Logger, lock: Bool = true
    ) async throws
        -> Job
    {
        let query = PostgresQuery(
            unsafeSQL: "SELECT \(JobColumns.list) FROM jobs WHERE id = $1\(lock ? " FOR UPDATE" : "")",
            binds: {
                var binds = PostgresBindings(); binds.append(id.rawValue); return binds
            }())
        guard let row = try await connection.row(query, logger) else {
            throw StoreError(.notFound, "there is no job \(id)", jobID: id)
        }
        return try Job(postgres: row)
    }

    /// Checks that `lease` still holds `job`.
    static func verify(_ lease: JobLease, holds job: Job) throws {
        try lease.verifyHolds(job)
    }

    /// Applies the move to `job` and returns the job as stored afterwards.
    func apply(_ connection: PostgresConnection, to job: Job, now: Int64, _ logger: Logger) async throws -> Job {
        if let lease { try Self.verify(lease, holds: job) }
        let target: JobState
        do {
            target = try JobLifecycle.of(job.kind).apply(command, to: job.state)
        } catch {
            throw StoreError(.illegalTransition, error.description, jobID: job.id)
        }
        var columns: [(column: String, value: Value)] = [
            ("state", target.rawValue), ("state_cause", command.rawValue), ("state_reason", reason),
            ("updated_at", now),
        ]
        // Leaving the running phase releases the owner; ending sets the finish time.
        if job.state.phase == .running && target.phase != .running { columns.append(("owner", nil)) }
        switch target.phase {
        case .waiting: columns.append(("finished_at", nil))
        case .succeeded, .failed, .cancelled: columns.append(("finished_at", now))
        case .running, .paused, .archived: break
        }
        columns += assignments
        var binds = PostgresBindings()
        // NULLs are typed by their column: a bare $n NULL would be untyped text.
        let setClause = columns.map { "\($0.column) = \(binds.placeholder($0.value))" }.joined(separator: ", ")
        var sql =
            "UPDATE jobs SET \(setClause) WHERE id = \(binds.placeholder(job.id.rawValue)) AND state = \(binds.placeholder(job.state.rawValue))"
        if let lease {
            sql +=
                " AND owner = \(binds.placeholder(lease.owner.rawValue)) AND attempt = \(binds.placeholder(lease.attempt))"
        }
        sql += " RETURNING " + JobColumns.list
        guard let row = try await connection.row(PostgresQuery(unsafeSQL: sql, binds: binds), logger) else {
            throw StoreError(.leaseLost, "job \(job.id) changed while it was being updated; try again", jobID: job.id)
        }
        return try Job(postgres: row)
    }
}
