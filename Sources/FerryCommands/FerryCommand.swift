public import ArgumentParser
import FerryCore

/// `ferry`: the root command. It only parses arguments; the work is in the libraries.
public struct FerryCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Downloads, stores and uploads media without losing a file, supervised by systemd.",
        discussion: """
            Ferry keeps a durable job store (SQLite) and runs its work in supervised worker
            processes. Start the daemon with `ferry serve`; check a configuration file with
            `ferry config check`.
            """,
        version: "ferry \(FerryVersion.current)",
        subcommands: [
            ServeCommand.self, StatusCommand.self, JobsCommand.self, EnqueueCommand.self, VideosCommand.self,
            CleanupCommand.self, CheckCommand.self, RepairCommand.self,
            ConfigCommand.self,
            DatabaseCommand.self, ClusterCommand.self, VersionCommand.self, WorkerCommand.self,
        ]
    )

    public init() {}
}

/// Exit statuses from sysexits(3), so scripts and systemd can tell failures apart.
enum ExitStatus {
    /// The configuration is invalid.
    static let config = ExitCode(78)
    /// The database cannot be opened or written.
    static let unavailable = ExitCode(69)
    /// The database file is damaged or not Ferry's.
    static let dataError = ExitCode(65)
    /// Something Ferry did not expect.
    static let software = ExitCode(70)
    /// This node lost its lease on the shared queue and stopped; a fresh start rejoins (systemd
    /// restarts it: `Restart=on-failure`).
    static let fenced = ExitCode(75)
    /// The admin API refused the request for lack of the token.
    static let noPermission = ExitCode(77)
    /// The daemon answered, but refused or could not do what was asked.
    static let failure = ExitCode(1)
    /// What the command names does not exist (a node never seen).
    static let noInput = ExitCode(66)
}
