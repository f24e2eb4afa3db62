public import FerryCore
import Foundation
import PostgresNIO

/// `cleanup.orphans: adopt` on PostgreSQL: a file found in this node's downloads folder with no
/// record becomes a finished download whose file is on this node.
extension PostgresJobStore {
    /// As the SQLite store's `adopt`: the record and the move into `<downloadsFolder>/<job id>/`
    /// happen in one transaction, and the file goes back if it does not commit.
    public func adopt(
        file path: String, size: Int64, sha256: String, downloadsFolder: String
    ) async throws(StoreError) -> (job: JobID, location: String) {
        let now = nowMilliseconds
        let name = AdoptedFileMove.adoptedName(path)
        let node = configuration.node?.id
        let logger = logger
        let moved = AdoptedFileMove()
        do {
            return try await write { connection in
                let job = try await Self.insertJobs(
                    connection, kind: .download, rows: [(nil, 0, 1, "a cleanup run found \(path) with no record")],
                    now: now, logger)[0]
                try await connection.run(
                    """
                    INSERT INTO downloads (job_id, url, file_name)
                    VALUES (\(job.id.rawValue), \(URL(fileURLWithPath: path).absoluteString), \(name))
                    """, logger)
                let folder = "\(downloadsFolder)/\(job.id.rawValue)"
                let destination = "\(folder)/\(name)"
                try moved.perform(path, to: destination, creating: folder)
                let move = PostgresTransition(
                    command: .adopt, reason: "adopted by a cleanup run from \(path)",
                    assignments: [
                        ("result_location", destination), ("result_size", size), ("result_sha256", sha256),
                        ("bytes_done", size), ("bytes_total", size), ("node", node),
                    ])
                _ = try await move.apply(connection, to: job, now: now, logger)
                return (job.id, destination)
            }
        } catch {
            moved.undo()
            throw error
        }
    }
}
