public import FerryConfig
import FerryCore
public import FerryStore
import FerrySystemd
import Foundation
public import Logging
public import ServiceLifecycle

/// `ferry serve`: the process systemd starts and watches.
///
/// This first version owns the store — opened, migrated and recovered before READY=1 — and
/// keeps systemd informed (READY, STATUS, STOPPING) until SIGTERM or SIGINT. Worker processes,
/// the watchdog and the HTTP admin join it in the supervisor, admin and workers issues.
public struct Supervisor: Service {
    public let loaded: LoadedConfiguration
    public let store: SQLiteJobStore
    public let startup: StoreBootstrap.Report
    let logger: Logger
    let notifier: SystemdNotifier

    public init(loaded: LoadedConfiguration, store: SQLiteJobStore, startup: StoreBootstrap.Report, logger: Logger) {
        self.loaded = loaded
        self.store = store
        self.startup = startup
        self.logger = logger
        self.notifier = SystemdNotifier()
    }

    public func run() async throws {
        let summary = try await statusLine()
        try notifier.notify(.ready, .status(summary))
        logger.notice(
            "ferry is ready",
            metadata: [
                "version": "\(FerryVersion.current)", "database": "\(loaded.databasePath)",
                "config": "\(loaded.file ?? "embedded defaults")", "status": "\(summary)",
            ])
        // Waits here until SIGTERM/SIGINT starts the graceful shutdown.
        try? await gracefulShutdown()
        try notifier.notify(.stopping, .status("stopping"))
        logger.notice("ferry is stopping")
    }

    /// The one-line summary for `systemctl status`.
    func statusLine() async throws(StoreError) -> String {
        let counts = try await store.queueCounts()
        let waiting = counts.filter { $0.state.phase == .waiting }.reduce(0) { $0 + $1.count }
        let failed = counts.filter { $0.state.phase == .failed }.reduce(0) { $0 + $1.count }
        return "ready: \(waiting) queued, \(failed) failed, \(startup.recovered.count) recovered at start"
    }

    /// Runs the supervisor until a termination signal; returns when it has stopped cleanly.
    public static func serve(_ loaded: LoadedConfiguration, logger: Logger) async throws {
        let (store, report) = try await StoreBootstrap.openAndRecover(loaded, logger: logger)
        let supervisor = Supervisor(loaded: loaded, store: store, startup: report, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: supervisor)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}
