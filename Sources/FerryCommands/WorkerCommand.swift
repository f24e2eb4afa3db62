import ArgumentParser
import FerryCore
import FerryWorkers
import Foundation

/// `ferry worker`: one worker process. `ferry serve` starts these; people do not.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one worker process (started by `ferry serve`, which talks to it over stdin/stdout).",
        discussion: """
            The worker reads the supervisor's messages from standard input and writes its own to
            standard output, one JSON line each; standard error is kept by the supervisor for crash
            reports. It exits when told to, when its input closes, or when its supervisor dies.
            """,
        shouldDisplay: false
    )

    @Option(help: "The role: \(WorkerRole.allCases.map(\.rawValue).joined(separator: ", ")).")
    var role: String

    @Option(help: "The id the supervisor gave this worker.")
    var id: String

    @Option(name: .customLong("parent-pid"), help: "The supervisor's pid; the worker exits if it is not its parent.")
    var parentPID: Int32

    @Option(name: .customLong("heartbeat-ms"), help: "Milliseconds between heartbeats.")
    var heartbeatMilliseconds: Int = 15_000

    @Option(name: .customLong("state-dir"), help: "The state folder (spool and finished files).")
    var stateDirectory: String

    @Option(help: "Jobs to run at once.")
    var concurrency: Int = 1

    @Option(help: "The worker settings as JSON (the supervisor passes what it loaded).")
    var settings: String?

    @Option(help: "Misbehave on purpose, for tests: \(WorkerFault.allCases.map(\.rawValue).joined(separator: ", ")).")
    var fault: String?

    func validate() throws {
        guard WorkerRole(rawValue: role) != nil else { throw ValidationError("unknown role '\(role)'") }
        if let fault, WorkerFault(rawValue: fault) == nil { throw ValidationError("unknown fault '\(fault)'") }
        guard heartbeatMilliseconds >= 10 else { throw ValidationError("--heartbeat-ms must be at least 10") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        _ = try workerSettings()
    }

    /// The settings from `--settings`, or the embedded defaults.
    func workerSettings() throws -> WorkerSettings {
        guard let settings else { return WorkerSettings() }
        do {
            return try JSONDecoder().decode(WorkerSettings.self, from: Data(settings.utf8))
        } catch {
            throw ValidationError("--settings is not valid worker settings JSON: \(error)")
        }
    }

    func run() async throws {
        let settings = try workerSettings()
        let options = WorkerOptions(
            role: WorkerRole(rawValue: role)!, id: WorkerID(id), parentPID: parentPID,
            heartbeatInterval: .milliseconds(heartbeatMilliseconds), concurrency: concurrency,
            stateDirectory: stateDirectory, targets: settings.targets, telegramBots: settings.telegramBots,
            sharedTelegramTurns: settings.sharedTelegramTurns, fault: fault.flatMap(WorkerFault.init(rawValue:))
        )
        let status = await Executors.with(
            role: options.role, stateDirectory: stateDirectory, concurrency: options.concurrency, settings: settings
        ) { executors in
            await WorkerRuntime(options: options, executors: executors).run()
        }
        throw ExitCode(status)
    }
}
