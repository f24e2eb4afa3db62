internal import FerryCore
internal import GRDB

extension StoreError {
    /// Turns anything a database call threw into a ``StoreError`` that says what to do.
    static func wrapping(_ error: any Error, path: String, jobID: JobID? = nil) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? TransitionError {
            return StoreError(.illegalTransition, error.description, jobID: jobID)
        }
        guard let error = error as? DatabaseError else {
            return StoreError(.unavailable, "unexpected store failure on \(path)", jobID: jobID, underlying: "\(error)")
        }
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode.primaryResultCode {
        case .SQLITE_CONSTRAINT:
            if detail.contains("illegal job transition") {
                return StoreError(.illegalTransition, "the database refused an illegal job transition", jobID: jobID)
            }
            if detail.contains("jobs.kind, jobs.idempotency_key") {
                return StoreError(.conflict, "another live job already holds this idempotency key", jobID: jobID)
            }
            return StoreError(.invalidInput, "the store refused an inconsistent write: \(detail)", jobID: jobID)
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError(
                .busy, "the database \(path) stayed locked by another process past the busy timeout", jobID: jobID,
                underlying: detail)
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN, .SQLITE_AUTH:
            return StoreError(
                .unavailable,
                "cannot write the database \(path): check that its folder exists and is writable by this user",
                jobID: jobID, underlying: detail)
        case .SQLITE_FULL:
            return StoreError(
                .unavailable, "the disk holding \(path) is full: free space, then retry", jobID: jobID,
                underlying: detail)
        case .SQLITE_IOERR:
            return StoreError(
                .unavailable, "an I/O error hit the database \(path): check the disk", jobID: jobID, underlying: detail)
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return StoreError(
                .corrupt,
                "\(path) is not a usable Ferry database (damaged or another kind of file): restore it from a backup or move it aside",
                jobID: jobID, underlying: detail)
        default:
            return StoreError(.unavailable, "the database \(path) failed: \(detail)", jobID: jobID, underlying: detail)
        }
    }
}
