import FerryConfig
import FerryCore
import FerryPostgres
import Foundation

/// `ferry db migrate` and `ferry db status` when `database.url` names a PostgreSQL store.
enum PostgresDatabase {
    static func open(_ loaded: LoadedConfiguration) async throws -> PostgresJobStore {
        let database = loaded.configuration.database
        let configuration = try PostgresStoreConfiguration(
            url: database.url, password: try loaded.databasePassword(), maximumConnections: 2)
        return try await PostgresJobStore.open(configuration)
    }

    /// `ferry db backup` and `restore` copy the SQLite file: with database.url they would copy
    /// nothing of the queue, so they say what to use instead.
    static func refuseSQLiteOnly(_ command: String, _ loaded: LoadedConfiguration) throws {
        guard !loaded.configuration.database.url.isEmpty else { return }
        Terminal.error(
            "`ferry db \(command)` copies the SQLite file, but database.url names a PostgreSQL store: use PostgreSQL's own tools (pg_dump and pg_restore, or pg_basebackup)"
        )
        throw ExitStatus.config
    }

    static func migrate(_ loaded: LoadedConfiguration) async throws {
        do {
            let store = try await open(loaded)
            defer { store.close() }
            let applied = try await store.migrate()
            let current = try await store.appliedMigrations().last ?? "none"
            if applied.isEmpty {
                print("\(store.configuration): already up to date (\(current))")
            } else {
                print("\(store.configuration): applied \(applied.joined(separator: ", "))")
            }
        } catch let error as StoreError {
            throw error.report()
        }
    }

    static func status(_ loaded: LoadedConfiguration) async throws {
        do {
            let store = try await open(loaded)
            defer { store.close() }
            let applied = try await store.appliedMigrations()
            let pending = PostgresJobStore.knownMigrations.filter { !applied.contains($0) }
            print("database: \(store.configuration)")
            print("migrations applied: \(applied.isEmpty ? "none" : applied.joined(separator: ", "))")
            print("migrations pending: \(pending.isEmpty ? "none" : pending.joined(separator: ", "))")
            guard pending.isEmpty else { return }
            for count in try await store.queueCounts() {
                print("  \(count.kind) \(count.state): \(count.count)")
            }
        } catch let error as StoreError {
            throw error.report()
        }
    }
}
