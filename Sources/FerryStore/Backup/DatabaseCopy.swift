public import FerryCore
import Foundation
internal import GRDB

/// A copy of the database (a backup), checked: what `ferry db backup` prints and what
/// `ferry db restore` checks before it puts a copy in place.
public struct DatabaseCopy: Sendable {
    public var path: String
    public var size: Int64
    /// The last migration the copy has (its schema version).
    public var schemaVersion: String
    /// Jobs by kind and state.
    public var counts: [QueueCount]

    /// The total number of jobs in the copy.
    public var jobs: Int { counts.reduce(0) { $0 + $1.count } }

    /// Opens the file at `path` read-only and checks that it is a whole, consistent Ferry database
    /// this build can use: `PRAGMA integrity_check` and `foreign_key_check`, and known migrations.
    /// - Throws: ``StoreError`` with `database_corrupt` (damaged, not a Ferry database),
    ///   `schema_too_new` or `database_unavailable` (cannot be read), saying what to do.
    public static func inspect(_ path: String) async throws(StoreError) -> DatabaseCopy {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = (attributes[.size] as? NSNumber)?.int64Value
        else {
            throw StoreError(.unavailable, "cannot read \(path): no such file, or no permission to read it")
        }
        do throws(StoreError) {
            let store = try SQLiteJobStore.open(StoreConfiguration(path: path, readOnly: true))
            let applied = try store.appliedMigrations()
            guard let version = applied.last else {
                throw StoreError(.corrupt, "it is an empty database, not a copy of a Ferry store")
            }
            let problems = try await store.checkIntegrity()
            guard problems.isEmpty else {
                throw StoreError(
                    .corrupt, "it is damaged (\(problems.prefix(3).joined(separator: "; "))): use another copy",
                    underlying: problems.joined(separator: "; "))
            }
            return DatabaseCopy(path: path, size: size, schemaVersion: version, counts: try await store.queueCounts())
        } catch {
            throw StoreError(
                error.code, "\(path) cannot be used as a Ferry database: \(error.message)", underlying: error.underlying
            )
        }
    }
}
