public import FerryCore
import Foundation
internal import GRDB

/// `cleanup.orphans: adopt`: a file found in the downloads folder with no record becomes a
/// finished download.
extension SQLiteJobStore {
    /// Creates a download for the file at `path`, moves the file into the new job's own folder
    /// (`<downloadsFolder>/<job id>/<name>`, so no later job can collide with it) and marks the job
    /// succeeded with the file's size and SHA-256 — all inside one write transaction. If the
    /// transaction does not commit, the file is moved back; a crash between the move and the
    /// commit leaves a file with no record, which the next run finds and adopts again. The
    /// record's URL is the file's original place (`file://…`): there is no source to fetch it
    /// from again, so a refetch is refused for it.
    /// Answers the new job and where the file is now.
    public func adopt(
        file path: String, size: Int64, sha256: String, downloadsFolder: String
    ) async throws(StoreError) -> (job: JobID, location: String) {
        let now = nowMilliseconds
        let name = AdoptedFileMove.adoptedName(path)
        let moved = AdoptedFileMove()
        do {
            return try await write { db in
                let job = try Self.insertJob(
                    db, kind: .download, key: nil, priority: 0, maxAttempts: 1,
                    reason: "a cleanup run found \(path) with no record", now: now)
                try db.execute(
                    sql: "INSERT INTO downloads (job_id, url, file_name) VALUES (?, ?, ?)",
                    arguments: [job.id.rawValue, URL(fileURLWithPath: path).absoluteString, name])
                let folder = "\(downloadsFolder)/\(job.id.rawValue)"
                let destination = "\(folder)/\(name)"
                try moved.perform(path, to: destination, creating: folder)
                let move = JobTransition(
                    command: .adopt, reason: "adopted by a cleanup run from \(path)",
                    assignments: [
                        ("result_location", destination), ("result_size", size), ("result_sha256", sha256),
                        ("bytes_done", size), ("bytes_total", size),
                    ])
                _ = try move.apply(db, to: job, now: now)
                return (job.id, destination)
            }
        } catch {
            moved.undo()
            throw error
        }
    }

    /// Whether a download was adopted (it has no source to fetch again from).
    static func isAdopted(_ db: Database, _ id: JobID) throws -> Bool {
        try Bool.fetchOne(
            db, sql: "SELECT url LIKE 'file:%' FROM downloads WHERE job_id = ?", arguments: [id.rawValue]) ?? false
    }
}
