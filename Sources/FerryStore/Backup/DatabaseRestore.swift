public import FerryCore
public import Foundation

/// Puts a database copy in place of the live database, for `ferry db restore`.
public enum DatabaseRestore {
    /// What a restore did.
    public struct Outcome: Sendable {
        public var restored: DatabaseCopy
        /// Where the database that was in place went (with its -wal and -shm files), or nil when
        /// there was none.
        public var keptAside: String?
    }

    /// Checks the copy at `copyPath`, takes the database lock (refused while `ferry serve` runs),
    /// moves the current database aside (with its WAL, which may hold committed transactions),
    /// copies the backup in under a temporary name, fsyncs it and renames it into place, and
    /// leaves a ``RestoreMarker`` so that the next start reconciles records with files.
    /// - Throws: ``StoreError``: `database_corrupt` / `schema_too_new` for a copy that cannot be
    ///   used (nothing is changed), `database_busy` while the daemon runs, `database_unavailable`
    ///   when a file cannot be moved or written.
    public static func restore(
        from copyPath: String, over databasePath: String, at date: Date = Date()
    ) async throws(StoreError) -> Outcome {
        let copy = try await DatabaseCopy.inspect(copyPath)
        let lock = try DatabaseLock.acquire(
            for: databasePath, purpose: "stop it first (systemctl stop ferry), then restore")
        defer { withExtendedLifetime(lock) {} }
        let folder = (databasePath as NSString).deletingLastPathComponent
        try createFolder(folder)
        var keptAside: String?
        if FileManager.default.fileExists(atPath: databasePath) {
            let aside = databasePath + ".before-restore-" + BackupFolder.stamp(date)
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: databasePath + suffix) {
                try move(databasePath + suffix, to: aside + suffix)
            }
            keptAside = aside
        }
        let temporary = databasePath + ".restoring"
        unlink(temporary)
        do {
            try FileManager.default.copyItem(atPath: copyPath, toPath: temporary)
        } catch {
            unlink(temporary)
            throw StoreError(
                .unavailable, "cannot copy \(copyPath) to \(temporary): \((error as NSError).localizedDescription)")
        }
        try Durability.fsync(file: temporary)
        try move(temporary, to: databasePath)
        _ = FileManager.default.createFile(
            atPath: RestoreMarker.path(for: databasePath), contents: Data("restored from \(copyPath)\n".utf8))
        try Durability.fsync(file: folder)
        return Outcome(restored: copy, keptAside: keptAside)
    }

    private static func move(_ from: String, to destination: String) throws(StoreError) {
        guard rename(from, destination) == 0 else {
            throw StoreError(
                .unavailable, "cannot move \(from) to \(destination): \(String(cString: strerror(errno)))")
        }
    }

    private static func createFolder(_ folder: String) throws(StoreError) {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.unavailable, "cannot create \(folder): \((error as NSError).localizedDescription)")
        }
    }
}
