public import FerryCore
import Foundation
internal import GRDB

extension SQLiteJobStore {
    /// Writes an online, consistent copy of the live database to `destination` and checks it.
    ///
    /// `VACUUM INTO` runs on a reader connection, so it sees one snapshot while the supervisor goes
    /// on writing (WAL). The copy is written under a temporary name beside the destination,
    /// fsynced, checked with ``DatabaseCopy/inspect(_:)`` and only then renamed into place (and
    /// its folder fsynced): a file at `destination` is always a whole, verified copy.
    /// - Throws: ``StoreError`` when the copy cannot be written or fails its check; no file is left
    ///   at `destination` then, and the temporary file is removed.
    public func backup(to destination: String) async throws(StoreError) -> DatabaseCopy {
        let folder = (destination as NSString).deletingLastPathComponent
        let temporary = (folder as NSString).appendingPathComponent(
            ".\((destination as NSString).lastPathComponent).partial-\(getpid())")
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw StoreError(.conflict, "\(destination) already exists: choose another name, or remove it first")
        }
        unlink(temporary)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try await pool.unsafeRead { db in try db.execute(sql: "VACUUM INTO ?", arguments: [temporary]) }
        } catch {
            unlink(temporary)
            throw StoreError.wrapping(error, path: destination).explained(
                "cannot write a copy of the database to \(folder)")
        }
        do throws(StoreError) {
            try Durability.fsync(file: temporary)
            let copy = try await DatabaseCopy.inspect(temporary)
            guard rename(temporary, destination) == 0 else {
                throw StoreError(
                    .unavailable, "cannot rename the copy to \(destination): \(String(cString: strerror(errno)))")
            }
            try Durability.fsync(file: folder)
            return DatabaseCopy(
                path: destination, size: copy.size, schemaVersion: copy.schemaVersion, counts: copy.counts)
        } catch {
            unlink(temporary)
            throw error
        }
    }
}

extension StoreError {
    /// The same error, its message preceded by what was being done.
    func explained(_ doing: String) -> StoreError {
        StoreError(code, "\(doing): \(message)", jobID: jobID, underlying: underlying)
    }
}
