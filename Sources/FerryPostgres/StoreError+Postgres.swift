internal import FerryCore
import PostgresNIO

extension StoreError {
    /// Turns anything a PostgreSQL call threw into a ``StoreError`` that says what to do.
    static func wrapping(_ error: any Error, store: String, jobID: JobID? = nil) -> StoreError {
        if let error = error as? PostgresTransactionError {
            // What failed inside the transaction is what the caller needs to hear about.
            if let cause = error.closureError ?? error.beginError ?? error.commitError {
                return wrapping(cause, store: store, jobID: jobID)
            }
        }
        if let error = error as? StoreError { return error }
        if let error = error as? TransitionError {
            return StoreError(.illegalTransition, error.description, jobID: jobID)
        }
        if error is PostgresDecodingError {
            return StoreError(
                .corrupt, "\(store) returned a value Ferry cannot read", jobID: jobID, underlying: "\(error)")
        }
        guard let error = error as? PSQLError else {
            return StoreError(
                .unavailable, "unexpected store failure on \(store)", jobID: jobID, underlying: "\(error)")
        }
        guard error.code == .server, let info = error.serverInfo, let state = info[.sqlState] else {
            return StoreError(
                .unavailable,
                "cannot reach PostgreSQL at \(store) (\(error.code)): check that the server runs and accepts this user; Ferry retries",
                jobID: jobID, underlying: "\(error.underlying.map { "\($0)" } ?? "\(error.code)")")
        }
        let detail = [info[.message], info[.detail]].compactMap { $0 }.joined(separator: ": ")
        switch state {
        case PostgresSchema.illegalTransitionState:
            return StoreError(
                .illegalTransition, "the database refused an illegal job transition", jobID: jobID, underlying: detail)
        case PostgresNodesSchema.fencedState:
            return StoreError(
                .nodeFenced,
                "this node's lease on \(store) ran out, so its work is being taken over by other nodes: it stops rather than act on stale work",
                jobID: jobID, underlying: detail)
        case "23505" where info[.constraintName] == "jobs_one_running_per_lane":
            // Another node claimed the lane's upload in the same instant: claiming again sees it.
            return StoreError(
                .busy, "another node claimed an upload of the same serial lane on \(store) at the same time; retry",
                jobID: jobID, underlying: detail)
        case "23505" where info[.constraintName] == "jobs_one_active_per_key":
            return StoreError(.conflict, "another live job already holds this idempotency key", jobID: jobID)
        case PostgresSchema.invariantState, "22P02":
            return StoreError(.invalidInput, "the store refused an inconsistent write: \(detail)", jobID: jobID)
        case _ where state.hasPrefix("23"):
            return StoreError(.invalidInput, "the store refused an inconsistent write: \(detail)", jobID: jobID)
        case "40001", "40P01", "55P03":
            return StoreError(
                .busy, "another transaction on \(store) crossed this one; retry", jobID: jobID, underlying: detail)
        case "53100":
            return StoreError(
                .unavailable, "the disk of the PostgreSQL server \(store) is full: free space, then retry",
                jobID: jobID,
                underlying: detail)
        case "28P01", "28000":
            return StoreError(
                .unavailable,
                "PostgreSQL at \(store) refused the login: check the user and the password file (database.password_file)",
                jobID: jobID, underlying: detail)
        case "3D000":
            return StoreError(
                .unavailable, "the database of \(store) does not exist: create it (createdb) or fix database.url",
                jobID: jobID, underlying: detail)
        case "42P01":
            return StoreError(
                .unavailable, "\(store) is not migrated: run `ferry db migrate`", jobID: jobID, underlying: detail)
        case "25006":
            return StoreError(
                .unavailable, "\(store) is read-only (a standby?): point database.url at the primary", jobID: jobID,
                underlying: detail)
        case _ where state.hasPrefix("57") || state.hasPrefix("08"):
            return StoreError(
                .unavailable, "PostgreSQL at \(store) is shutting down or restarting; Ferry retries", jobID: jobID,
                underlying: detail)
        default:
            return StoreError(
                .unavailable, "PostgreSQL at \(store) failed: \(detail)", jobID: jobID, underlying: "\(state) \(detail)"
            )
        }
    }
}
