import ArgumentParser
import FerryConfig
import FerryCore
import FerryPostgres
import FerryStore
import FerrySupervisor
import Foundation

/// `ferry db …`
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Create, migrate, inspect, back up and restore the job database.",
        subcommands: [Migrate.self, Status.self, DatabaseBackupCommand.self, DatabaseRestoreCommand.self]
    )

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the database if needed and apply pending migrations (safe while serve runs).")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let loaded = try options.load()
            if !loaded.configuration.database.url.isEmpty { return try await PostgresDatabase.migrate(loaded) }
            do {
                let store = try StoreBootstrap.open(loaded, readOnly: false)
                let applied = try store.migrate()
                let current = try store.appliedMigrations().last ?? "none"
                if applied.isEmpty {
                    print("\(loaded.databasePath): already up to date (\(current))")
                } else {
                    print("\(loaded.databasePath): applied \(applied.joined(separator: ", "))")
                }
            } catch {
                throw error.report()
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the database's migrations, integrity and job counts without changing it.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let loaded = try options.load()
            if !loaded.configuration.database.url.isEmpty { return try await PostgresDatabase.status(loaded) }
            guard FileManager.default.fileExists(atPath: loaded.databasePath) else {
                print("\(loaded.databasePath): no database yet (`ferry db migrate` or `ferry serve` creates it)")
                return
            }
            do {
                let store = try StoreBootstrap.open(loaded, readOnly: true)
                let applied = try store.appliedMigrations()
                let pending = SQLiteJobStore.knownMigrations.filter { !applied.contains($0) }
                print("database: \(loaded.databasePath)")
                print("migrations applied: \(applied.isEmpty ? "none" : applied.joined(separator: ", "))")
                print("migrations pending: \(pending.isEmpty ? "none" : pending.joined(separator: ", "))")
                guard pending.isEmpty else { return }
                let problems = try await store.checkIntegrity()
                print("integrity: \(problems.isEmpty ? "ok" : problems.joined(separator: "; "))")
                for count in try await store.queueCounts() {
                    print("  \(count.kind) \(count.state): \(count.count)")
                }
                if !problems.isEmpty { throw ExitStatus.dataError }
            } catch let error as StoreError {
                throw error.report()
            }
        }
    }
}
