import ArgumentParser
import FerryConfig
import FerryCore
import FerrySupervisor

/// `ferry serve`
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Ferry daemon (the supervisor) until SIGTERM or SIGINT.",
        discussion: """
            Checks the configuration first and exits 78 without touching anything when it is
            invalid. Then opens the database in the state folder (creating and migrating it),
            puts back every job the previous run left running, tells systemd it is ready, and
            runs until asked to stop.
            """
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let loaded = try options.load()
        do {
            try await Supervisor.serve(loaded, logger: Terminal.logger(loaded))
        } catch let error as StoreError {
            throw error.report()
        }
    }
}
