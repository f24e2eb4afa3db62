import ArgumentParser
import FerryAdmin
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
            puts back every job the previous run left running, starts the workers and the HTTP
            admin (http.address:http.port), tells systemd it is ready, and runs until asked to
            stop. With database.url it is one node of a cluster on PostgreSQL: it puts back only
            what its own earlier incarnation held, and exits 75 if it ever loses its lease.
            """
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let loaded = try options.load()
        let logger = Terminal.logger(loaded)
        let exporter = PrometheusExporter()
        do {
            // A bad token file stops us before anything starts.
            let token = try AdminServer.token(for: loaded.configuration)
            try await Supervisor.serve(loaded, logger: logger, telemetry: SupervisorMetrics(factory: exporter)) {
                supervisor, gate in
                [
                    AdminServer(
                        supervisor: supervisor, configuration: loaded.configuration,
                        stateDirectory: loaded.stateDirectory, token: token, exporter: exporter, gate: gate,
                        logger: logger)
                ]
            }
        } catch let error as StoreError {
            throw error.report()
        } catch let error as AdminError {
            Terminal.error(error.message)
            throw error.code == .tokenUnreadable ? ExitStatus.config : ExitStatus.unavailable
        }
    }
}
