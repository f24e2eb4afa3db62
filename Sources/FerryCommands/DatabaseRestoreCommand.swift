import ArgumentParser
import FerryConfig
import FerryCore
import FerryStore
import Foundation

/// `ferry db restore FILE`
struct DatabaseRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a database copy in place of the current database (the daemon must be stopped).",
        discussion: """
            Checks the copy first (integrity, a Ferry database this version can use) and changes
            nothing if it fails. Refuses while `ferry serve` runs on this database. The current
            database is kept aside as <database>.before-restore-<UTC time> (with its -wal and -shm
            files). The next `ferry serve` requeues what the copy shows running and starts a
            cleanup run at once, which reconciles the records with the files on disk.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Argument(help: ArgumentHelp("The copy to restore, e.g. written by `ferry db backup`.", valueName: "file"))
    var file: String

    func run() async throws {
        let loaded = try options.load()
        try PostgresDatabase.refuseSQLiteOnly("restore", loaded)
        let outcome: DatabaseRestore.Outcome
        do {
            outcome = try await DatabaseRestore.restore(from: file, over: loaded.databasePath)
        } catch {
            throw error.report()
        }
        print("restored \(DatabaseBackupCommand.describe(outcome.restored))")
        print("  into \(loaded.databasePath)")
        if let aside = outcome.keptAside {
            print("the database that was in place is kept as \(aside) (remove it once all is well)")
        }
        print(
            """
            next: start Ferry (systemctl start ferry, or ferry serve). At start it requeues the jobs the copy
            shows running and runs a cleanup at once, which reconciles records with files: jobs whose files
            appeared or vanished since the copy are refetched, quarantined or adopted as cleanup.orphans says.
            """)
    }
}
