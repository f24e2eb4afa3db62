import ArgumentParser
import FerryCore
import FerryStore

/// `ferry version`
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print Ferry's version and the versions of its protocol and database schema.")

    func run() {
        print("ferry \(FerryVersion.current)")
        print("worker protocol \(FerryVersion.protocolVersion)")
        print("database schema \(SQLiteJobStore.knownMigrations.last ?? "none")")
    }
}
