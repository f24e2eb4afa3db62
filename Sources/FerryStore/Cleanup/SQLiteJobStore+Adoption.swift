public import FerryCore
import Foundation
internal import GRDB
import Synchronization

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
        let name = Self.adoptedName((path as NSString).lastPathComponent)
        let moved = MovedFile()
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
                try Self.move(path, to: destination, creating: folder)
                moved.record(from: path, to: destination)
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

    /// A name the downloads table accepts (its checks mirror the download worker's sanitising).
    private static func adoptedName(_ name: String) -> String {
        let cleaned = String(name.unicodeScalars.filter { $0.value >= 0x20 && $0 != "/" }.map(Character.init))
        guard !cleaned.isEmpty, cleaned != ".", cleaned != "..", cleaned.utf8.count <= 255 else { return "adopted" }
        return cleaned
    }

    private static func move(_ source: String, to destination: String, creating folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw StoreError(.conflict, "cannot adopt \(source): \(destination) already exists")
        }
        guard rename(source, destination) == 0 else {
            throw StoreError(
                .conflict, "cannot move \(source) to \(destination) to adopt it: \(String(cString: strerror(errno)))")
        }
        // The move must survive a crash as much as the record will.
        let descriptor = Glibc.open(folder, O_RDONLY | O_DIRECTORY)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
    }
}

/// The file an adoption moved, so a transaction that did not commit can put it back. (The move
/// happens inside the database's write closure, the undo after it returned.)
private final class MovedFile: Sendable {
    private let move = Mutex<(from: String, to: String)?>(nil)

    func record(from source: String, to destination: String) { move.withLock { $0 = (source, destination) } }

    func undo() {
        guard let move = move.withLock({ $0 }) else { return }
        rename(move.to, move.from)
        rmdir((move.to as NSString).deletingLastPathComponent)
    }
}
