import FerryCore
import Foundation
internal import GRDB

/// One compare-and-set move of one job, inside a write transaction: read the job, check the
/// caller's lease and the lifecycle, then `UPDATE … WHERE id = ? AND state = ?` with the columns
/// the new state requires. The schema's triggers check the move again and log it.
struct JobTransition {
    var command: JobCommand
    var reason: String?
    /// When set, the job must be running under exactly this lease.
    var lease: JobLease?
    /// Column assignments beyond those every transition makes.
    var assignments: [(column: String, value: (any DatabaseValueConvertible)?)] = []

    /// Loads a job for update, or throws `not_found`.
    static func load(_ db: Database, _ id: JobID) throws -> Job {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(JobColumns.list) FROM jobs WHERE id = ?"), arguments: [id.rawValue])
        else {
            throw StoreError(.notFound, "there is no job \(id)", jobID: id)
        }
        return try Job(row: row)
    }

    /// Checks that `lease` still holds `job`.
    static func verify(_ lease: JobLease, holds job: Job) throws {
        try lease.verifyHolds(job)
    }

    /// Applies the move to `job` and returns the job as stored afterwards.
    func apply(_ db: Database, to job: Job, now: Int64) throws -> Job {
        if let lease { try Self.verify(lease, holds: job) }
        let target: JobState
        do {
            target = try JobLifecycle.of(job.kind).apply(command, to: job.state)
        } catch {
            throw StoreError(.illegalTransition, error.description, jobID: job.id)
        }
        // A job's own times never go back (the schema wants updated_at >= created_at, and its
        // event log is in order): after the wall clock was set back, they stay where they were
        // until the clock passes them again.
        let now = max(now, job.updatedAt.storeMilliseconds)
        var columns: [(column: String, value: (any DatabaseValueConvertible)?)] = [
            ("state", target.rawValue), ("state_cause", command.rawValue), ("state_reason", reason),
            ("updated_at", now),
        ]
        // Leaving the running phase releases the owner; ending sets the finish time.
        if job.state.phase == .running && target.phase != .running { columns.append(("owner", nil)) }
        switch target.phase {
        case .waiting: columns += [("finished_at", nil)]
        case .succeeded, .failed, .cancelled: columns.append(("finished_at", now))
        case .running, .paused, .archived: break
        }
        columns += assignments
        let setClause = columns.map { "\($0.column) = ?" }.joined(separator: ", ")
        var arguments = StatementArguments(columns.map(\.value))
        var sql = "UPDATE jobs SET \(setClause) WHERE id = ? AND state = ?"
        arguments += [job.id.rawValue, job.state.rawValue]
        if let lease {
            sql += " AND owner = ? AND attempt = ?"
            arguments += [lease.owner.rawValue, lease.attempt]
        }
        sql += " RETURNING " + JobColumns.list
        guard let row = try Row.fetchOne(db, sql: sql, arguments: arguments) else {
            throw StoreError(.leaseLost, "job \(job.id) changed while it was being updated; try again", jobID: job.id)
        }
        return try Job(row: row)
    }
}
