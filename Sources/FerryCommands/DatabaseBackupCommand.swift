import ArgumentParser
import FerryConfig
import FerryCore
import FerryStore
import FerrySupervisor
import Foundation

/// `ferry db backup [--to FILE]`
struct DatabaseBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a verified, consistent copy of the database (safe while serve runs).",
        discussion: """
            The copy is taken online (SQLite's VACUUM INTO, one snapshot while the daemon goes on
            writing), flushed to disk, checked with PRAGMA integrity_check and only then given its
            name. Without --to it goes to backup.folder (default <state_dir>/backups) as
            ferry-<UTC time>-manual.sqlite, which scheduled pruning never removes.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(name: .customLong("to"), help: ArgumentHelp("Where to write the copy (must not exist).", valueName: "file"))
    var destination: String?

    func run() async throws {
        let loaded = try options.load()
        try PostgresDatabase.refuseSQLiteOnly("backup", loaded)
        guard FileManager.default.fileExists(atPath: loaded.databasePath) else {
            Terminal.error(
                "\(loaded.databasePath): no database to back up (`ferry db migrate` or `ferry serve` creates it)")
            throw ExitStatus.unavailable
        }
        let target = destination ?? BackupFolder(path: loaded.backupFolder).newCopyPath(at: Date(), manual: true)
        do {
            let store = try StoreBootstrap.open(loaded, readOnly: true)
            let copy = try await store.backup(to: target)
            print(Self.describe(copy))
        } catch {
            throw error.report()
        }
    }

    /// What a copy holds, for a person: path, size, schema version, integrity and job counts.
    static func describe(_ copy: DatabaseCopy) -> String {
        var lines = [
            "\(copy.path): \(ByteCount.describe(copy.size)), schema \(copy.schemaVersion), integrity ok, \(copy.jobs) jobs"
        ]
        for kind in JobKind.allCases {
            let counts = copy.counts.filter { $0.kind == kind }
            guard !counts.isEmpty else { continue }
            lines.append("  \(kind): " + counts.map { "\($0.count) \($0.state)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}
