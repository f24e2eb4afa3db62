public import FerryConfig
public import FerryCore
import FerryStore
import FerrySystemd
public import Foundation
public import Logging
public import ServiceLifecycle
import UnixSignals

/// `ferry serve`: the process systemd starts and watches, the parent of every worker and the only
/// writer of the database.
///
/// Start-up: the store is opened, migrated and recovered; every worker is started; READY=1 goes
/// to systemd only once every role has said hello. While running it keeps STATUS= current, pings
/// the watchdog only while its own loop turns and the database takes writes, and reloads its
/// configuration on SIGHUP. On SIGTERM/SIGINT it drains the workers within the configured grace.
public actor Supervisor: Service {
    private var loaded: LoadedConfiguration
    /// The store with what only its kind offers (SQLite's backups, PostgreSQL's cluster).
    public nonisolated let served: ServeStore
    public nonisolated var store: any JobStore { served.jobs }
    public let startup: StoreBootstrap.Report
    private let fleet: WorkerFleet
    /// Sweep, pending scan and full cleanup runs (on PostgreSQL, of this node's files).
    private let cleanup: CleanupCoordinator
    /// Scheduled copies of the database (`backup.*`; on the SQLite store).
    public nonisolated let backups: BackupScheduler?
    /// On PostgreSQL: this node's lease on the shared queue.
    public nonisolated let nodeLease: NodeLease?
    /// On PostgreSQL: which node polls each Telegram bot.
    public nonisolated let telegramElection: TelegramPollerElection?
    /// Why this node stopped acting on the queue: its lease ran out (nil while it holds it).
    public private(set) var fenced: String?
    /// Opened once, when the node lease fences the node (a one-shot latch, like the start-up gates).
    private let fenceGate = StartupGate()
    /// CPU, memory, disks and every process, sampled on `supervisor.metrics_interval`.
    public nonisolated let metrics: MetricsSampler
    private let logger: Logger
    private let notifier = SystemdNotifier()
    private let configLoader = ConfigLoader()
    private let telemetry: SupervisorMetrics
    /// What else READY=1 waits for (the HTTP listener).
    private let gates: [StartupGate]
    private var lastStatus = ""
    /// When the cluster's nodes were last read for `/metrics`: they change with leases, not with
    /// work, so a busy node reads them once a renewal interval, not every second.
    private var nodesReadAt: ContinuousClock.Instant?
    /// When the finished states must be counted again, and their counts meanwhile.
    private var finishedCounts = FinishedCounts()
    /// Wakes the STATUS= loop: every second while busy; idle, with each metrics sample.
    private var statusAlarm = AlarmClock()
    /// Whether READY=1 was sent: the store is recovered, every role said hello, HTTP is bound.
    public private(set) var isReady = false
    public nonisolated let startedAt = Date()
    /// The start on the monotonic clock: uptime must not jump when the wall clock is set.
    public nonisolated let startedAtInstant = ContinuousClock.now
    /// The last WATCHDOG=1 sent to systemd; nil when not run under a watchdog.
    public private(set) var lastWatchdogPing: Date?
    /// The last database write probe: nil before the first, else its time and error (nil: it worked).
    public private(set) var lastWriteProbe: (at: Date, error: StoreError?)?

    public init(
        loaded: LoadedConfiguration, store served: ServeStore, startup: StoreBootstrap.Report, logger: Logger,
        telemetry: SupervisorMetrics = SupervisorMetrics(), waitingFor gates: [StartupGate] = []
    ) throws(StoreError) {
        self.loaded = loaded
        self.served = served
        self.startup = startup
        self.logger = logger
        self.telemetry = telemetry
        self.gates = gates
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        // The workers that read the database (cleanup) or pace Telegram sends in it get its password.
        let databaseEnvironment = served.cleanupEnvironment
        self.fleet = WorkerFleet(
            settings: Self.fleetSettings(loaded.configuration, served: served), executable: executable,
            stateDirectory: loaded.stateDirectory, store: served.jobs, node: startup.node?.identity.name,
            environment: [.cleanup: databaseEnvironment, .upload: databaseEnvironment, .telegram: databaseEnvironment],
            logger: logger, metrics: telemetry)
        let fleet = self.fleet
        var folders = [(label: "state", path: loaded.stateDirectory)]
        self.cleanup = CleanupCoordinator(
            store: served.cleanup, database: served.cleanupDatabase, fleet: fleet,
            stateDirectory: loaded.stateDirectory, settings: loaded.configuration.cleanup, logger: logger)
        if let sqlite = served.sqlite {
            self.backups = BackupScheduler(
                store: sqlite, folder: loaded.backupFolder, settings: loaded.configuration.backup, logger: logger,
                telemetry: telemetry)
            let databaseFolder = URL(fileURLWithPath: loaded.databasePath).deletingLastPathComponent().path
            if databaseFolder != loaded.stateDirectory { folders.append((label: "database", path: databaseFolder)) }
        } else {
            self.backups = nil
        }
        if let shared = served.shared {
            let fenceGate = fenceGate
            self.nodeLease = try NodeLease(
                queue: shared, joinedAt: startup.node?.joinedAt, logger: logger,
                onTakeOver: { jobs in
                    if let node = startup.node { telemetry.tookOver(jobs, node: node.identity) }
                    for kind in Set(jobs.map(\.job.kind)) { await fleet.dispatchNewWork(kind) }
                },
                onFenced: { _ in await fenceGate.open() })
            self.telegramElection = TelegramPollerElection(
                queue: shared, fleet: fleet, logger: logger, telemetry: telemetry)
        } else {
            self.nodeLease = nil
            self.telegramElection = nil
        }
        self.metrics = MetricsSampler(
            folders: folders,
            historyCapacity: MetricsSampler.historyCapacity(
                coveringAnHourAt: loaded.configuration.supervisor.metricsInterval))
    }

    /// The fleet settings the configuration asks for; on a shared queue the workers that send to
    /// Telegram pace their sends in the database, with every node's.
    static func fleetSettings(_ configuration: FerryConfiguration, served: ServeStore) -> FleetSettings {
        var settings = FleetSettings(configuration)
        if case .postgres(let access) = served.cleanupDatabase { settings.work.sharedTelegramTurns = access }
        return settings
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.fleet.run() }
                // STATUS= is kept current from the start: a role crash-looping before READY shows.
                group.addTask { await self.keepStatusCurrent() }
                group.addTask { await self.sampleMetrics() }
                // SIGHUP is trapped from the start: its default action would end a daemon that is
                // still migrating, recovering or waiting for its workers' hello.
                group.addTask { await self.reloadOnHangup() }
                if let lease = nodeLease, let shared = served.shared {
                    group.addTask { try await lease.run() }
                    group.addTask { await self.followWakeUps(shared) }
                }
                if let lease = nodeLease, let election = telegramElection {
                    group.addTask {
                        await election.run(every: lease.identity.lease / 3) {
                            await self.configuration.telegramBots.map(\.name)
                        }
                    }
                }
                // READY waits for every role's hello — unless we are told to stop first.
                var cause = await readyOrStopping()
                if cause == .ready {
                    try await announceReady()
                    group.addTask { await self.feedWatchdog() }
                    group.addTask { await self.cleanup.run() }
                    if let backups { group.addTask { await backups.run() } }
                    // Waits here until SIGTERM/SIGINT starts the graceful shutdown, or the node is fenced.
                    cause = await stoppingOrFenced()
                }
                if case .fenced(let reason) = cause { fence(reason) }
                await stop()
                if fenced == nil { await nodeLease?.leave(reason: "stopped") }
                group.cancelAll()
            }
            if let fenced {
                throw StoreError(
                    .nodeFenced,
                    "this node lost its lease on the shared queue (\(fenced)); its workers were stopped and other nodes take its work over; it exits so that a fresh incarnation can start"
                )
            }
        } onGracefulShutdown: {
            // Nothing to do here: run() notices through gracefulShutdown() and drains in order.
        }
    }

    private enum StartOutcome: Equatable { case ready, stopping, fenced(String) }

    /// Waits until every worker said hello or a graceful shutdown began or the node was fenced,
    /// whichever comes first.
    private func readyOrStopping() async -> StartOutcome {
        await firstOf {
            await self.fleet.waitUntilReady()
            for gate in self.gates { await gate.wait() }
            return .ready
        }
    }

    /// Waits until a graceful shutdown begins or the node is fenced.
    private func stoppingOrFenced() async -> StartOutcome {
        await firstOf {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return nil
        }
    }

    private func firstOf(_ other: @escaping @Sendable () async -> StartOutcome?) async -> StartOutcome {
        let fenceGate = fenceGate
        let lease = nodeLease
        return await withTaskGroup(of: StartOutcome?.self) { group in
            group.addTask { await other() }
            group.addTask {
                try? await gracefulShutdown()
                return .stopping
            }
            if let lease {
                group.addTask {
                    await fenceGate.wait()
                    guard case .fenced(let reason) = await lease.state else { return nil }
                    return .fenced(reason)
                }
            }
            var first: StartOutcome = .stopping
            while let next = await group.next() {
                if let next {
                    first = next
                    break
                }
            }
            group.cancelAll()
            return first
        }
    }

    /// The node may no longer act on the queue: no more dispatch (the drain that follows stops
    /// the workers; anything they still report is refused by the database), no watchdog ping,
    /// health `fail`.
    private func fence(_ reason: String) {
        guard fenced == nil else { return }
        fenced = reason
        isReady = false
        telemetry.ready(false)
        try? notifier.notify(.status("fenced: \(reason)"))
    }

    /// Hands work announced anywhere in the cluster to this node's free workers at once (the
    /// fleet's own look every few seconds is the fallback when a notification is lost).
    private func followWakeUps(_ shared: any SharedQueue) async {
        for await wakeUp in shared.wakeUps() {
            switch wakeUp {
            case .work(let kind): await fleet.dispatchNewWork(kind)
            case .listening: for kind in JobKind.allCases { await fleet.dispatchNewWork(kind) }
            }
        }
    }

    private func announceReady() async throws {
        isReady = true
        telemetry.ready(true)
        let status = try await statusLine()
        try notifier.notify(.ready, .status(status))
        lastStatus = status
        logger.notice(
            "ferry is ready",
            metadata: [
                "version": "\(FerryVersion.current)", "database": "\(served.location)",
                "config": "\(loaded.file ?? "embedded defaults")", "status": "\(status)",
                "recovered_jobs": "\(startup.recovered.count)",
            ])
        VideoToolsCheck.warnIfMissing(loaded.configuration.targets, logger: logger)
    }

    private func stop() async {
        let grace = loaded.configuration.supervisor.shutdownGrace
        // systemd must wait for the drain, not kill us in the middle of it.
        try? notifier.notify(.stopping, .status("stopping: draining workers"), .extendTimeout(grace + .seconds(5)))
        logger.notice("ferry is stopping", metadata: ["grace": "\(grace)"])
        let fleet = fleet
        // A second SIGTERM or SIGINT while draining: the operator will not wait; kill the workers.
        let impatience = Task {
            for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                await fleet.hurryStop()
                break
            }
        }
        await fleet.stop(grace: grace)
        impatience.cancel()
        logger.notice("every worker has stopped")
    }

    // MARK: For the admin API

    public var configuration: FerryConfiguration { loaded.configuration }
    public var stateDirectory: String { loaded.stateDirectory }

    public func fleetSnapshot() async -> FleetSnapshot { await fleet.snapshot() }

    /// Whether each bot's Bot API was reachable when its telegram worker last said, by bot.
    public func telegramStatus() async -> [String: TelegramBotStatus] { await fleet.telegramStatus() }

    /// On a shared queue, the node polling each configured bot (by node id); empty on one node.
    public func telegramPollers() async -> [String: String] { await telegramElection?.pollers ?? [:] }

    /// Replaces every worker of a role through a drain, as the recycling does; nothing is lost.
    public func restartWorkers(of role: WorkerRole) async { await fleet.restart(role) }

    /// Stops the transfer of a job an operator cancelled while it ran.
    public func withdraw(_ jobID: JobID, reason: String) async { await fleet.withdraw(jobID, reason: reason) }

    /// Starts a full cleanup run now, or returns the one already running (`started` false).
    public func requestCleanup(dryRun: Bool) async throws(StoreError) -> (run: CleanupRun, started: Bool) {
        try await cleanup.request(trigger: .request, dryRun: dryRun)
    }

    /// Hands newly enqueued or reopened work to free workers at once.
    public func dispatchNewWork(_ kind: JobKind) async { await fleet.dispatchNewWork(kind) }

    // MARK: Status

    /// The one-line summary for `systemctl status`.
    func statusLine() async throws(StoreError) -> String {
        statusLine(counts: try await store.queueCounts(), fleet: await fleet.snapshot())
    }

    private func statusLine(counts: [QueueCount], fleet: FleetSnapshot) -> String {
        func total(_ phase: JobPhase) -> Int { counts.filter { $0.state.phase == phase }.reduce(0) { $0 + $1.count } }
        return
            "\(isReady ? "ready" : "starting"): \(fleet.summary); \(total(.waiting)) queued, \(total(.running)) running, "
            + "\(total(.failed)) failed; \(startup.recovered.count) recovered at start"
    }

    private func keepStatusCurrent() async {
        statusAlarm.set(.now + .seconds(1))
        for await _ in statusAlarm.rings {
            // Every second while work is in flight. Idle, STATUS= and the queue gauges change only
            // with work, so they are refreshed with each metrics sample (a busy fleet is noticed
            // then, at the latest one metrics interval after work began).
            let busy = await fleet.isBusy
            if busy { statusAlarm.set(.now + .seconds(1)) }
            // One look at the queue and the fleet serves both STATUS= and the gauges.
            guard let counts = try? await queueCounts() else { continue }
            let snapshot = await fleet.snapshot()
            telemetry.queue(counts, now: Date())
            telemetry.fleet(snapshot)
            await recordNode()
            let status = statusLine(counts: counts, fleet: snapshot)
            guard status != lastStatus else { continue }
            lastStatus = status
            try? notifier.notify(.status(status))
        }
    }

    /// The queue's counts, for STATUS=, the gauges and the sync health (which the admin page asks
    /// for every 2 s): the finished states' at most once a minute once counting them is dear
    /// (``FinishedCounts``), the unfinished ones at every look.
    public func queueCounts() async throws(StoreError) -> [QueueCount] {
        if !finishedCounts.fullCountDue(at: .now) {
            return try await store.unfinishedQueueCounts() + finishedCounts.kept
        }
        let started = ContinuousClock.now
        let counts = try await store.queueCounts()
        finishedCounts.counted(counts, took: .now - started, at: .now)
        return counts
    }

    // MARK: Metrics

    /// This node's lease and, once a renewal interval, the cluster's nodes, for `/metrics`
    /// (PostgreSQL store only).
    private func recordNode() async {
        guard let lease = nodeLease else { return }
        var left = Duration.zero
        if case .live(let renewedAt) = await lease.state {
            left = lease.identity.lease - (ContinuousClock.now - renewedAt)
        }
        var nodes: [ClusterNode]?
        if nodesReadAt.map({ ContinuousClock.now - $0 >= lease.identity.lease / 3 }) ?? true {
            nodesReadAt = .now
            nodes = try? await served.shared?.cluster()
        }
        telemetry.node(lease.identity, leaseLeft: left, nodes: nodes)
    }

    /// Samples the machine and every process on the configured interval, and recycles a worker
    /// whose resident memory went over its role's limit.
    private func sampleMetrics() async {
        while !Task.isCancelled {
            let workers = await fleet.snapshot().workers
            var processes = [(label: "supervisor", pid: getpid())]
            for worker in workers { if let pid = worker.pid { processes.append((worker.id.rawValue, pid)) } }
            let snapshot = await metrics.sample(processes: processes)
            telemetry.sampled(snapshot)
            await probeWrite()
            var resident: [WorkerID: Int] = [:]
            for worker in workers { resident[worker.id] = snapshot.processes[worker.id.rawValue]?.residentBytes }
            await fleet.recycleAboveMemoryLimit(resident)
            await fleet.followMemoryCgroups()
            // Idle, STATUS= follows the samples; before READY=1 it keeps its own pace (none is
            // sent in the first second, so a quick start says READY first).
            if isReady { statusAlarm.ring() }
            try? await Task.sleep(for: loaded.configuration.supervisor.metricsInterval)
        }
    }

    /// A write to the database, whose result health reports: a store that cannot take writes
    /// makes the daemon useless even while every process is alive.
    private func probeWrite() async {
        do {
            try await store.checkWritable()
            lastWriteProbe = (Date(), nil)
        } catch {
            lastWriteProbe = (Date(), error)
            logger.error("the database cannot be written", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Watchdog

    /// Pings systemd's watchdog at half its interval, and only while this loop turns and the
    /// database takes a write: a stuck supervisor must be killed by systemd, a sick worker not.
    private func feedWatchdog() async {
        guard let interval = try? notifier.watchdogInterval() else { return }
        while !Task.isCancelled {
            guard fenced == nil else {
                // A fenced node must not look alive to systemd: it is draining, then exits.
                logger.critical("withholding the watchdog ping: this node lost its lease")
                try? await Task.sleep(for: interval / 2)
                continue
            }
            do {
                try await store.checkWritable()
                try notifier.notify(.watchdog)
                lastWatchdogPing = Date()
                telemetry.watchdogPinged(at: lastWatchdogPing!)
            } catch {
                logger.critical(
                    "withholding the watchdog ping: the database cannot be written", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval / 2)
        }
    }

    // MARK: Reload

    /// On SIGHUP: re-read the configuration; apply what can change live; keep the running one
    /// when the new file is invalid.
    private func reloadOnHangup() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            await reload()
        }
    }

    func reload() async {
        if isReady { try? notifier.notify(.reloading(monotonicMicroseconds: SystemdNotifier.monotonicMicroseconds())) }
        do {
            let fresh = try configLoader.load(file: loaded.file)
            loaded = fresh
            await fleet.update(Self.fleetSettings(fresh.configuration, served: served))
            await cleanup.update(fresh.configuration.cleanup)
            await backups?.update(fresh.configuration.backup)
            logger.notice("configuration reloaded", metadata: ["config": "\(fresh.file ?? "embedded defaults")"])
        } catch {
            for issue in error.issues {
                logger.error(
                    "the new configuration is invalid; keeping the running one", metadata: ["issue": "\(issue)"])
            }
        }
        // READY=1 ends the reload for systemd; before start-up is over it would claim readiness.
        if isReady { try? notifier.notify(.ready, .status(lastStatus)) }
    }

    // MARK: Entry point

    /// Runs the supervisor until a termination signal; returns when it has stopped cleanly.
    ///
    /// - Parameter frontends: services that run beside the supervisor (the HTTP admin); each
    ///   gets the supervisor and a gate it must open before READY=1 can be sent. They are stopped
    ///   before the supervisor drains its workers.
    public static func serve(
        _ loaded: LoadedConfiguration, logger: Logger, telemetry: SupervisorMetrics = SupervisorMetrics(),
        frontends: (Supervisor, StartupGate) -> [any Service] = { _, _ in [] }
    ) async throws {
        let (store, report) = try await StoreBootstrap.openAndRecover(loaded, logger: logger)
        let gate = StartupGate()
        defer { store.close() }
        let supervisor = try Supervisor(
            loaded: loaded, store: store, startup: report, logger: logger, telemetry: telemetry, waitingFor: [gate])
        let others = frontends(supervisor, gate)
        if others.isEmpty { await gate.open() }
        let grace = loaded.configuration.supervisor.shutdownGrace
        var configuration = ServiceGroupConfiguration(
            // A front end that fails (the port is taken) stops the daemon in order, workers drained.
            services: [.init(service: supervisor)]
                + others.map {
                    .init(
                        service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup)
                },
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger)
        // The supervisor's own drain is bounded by the grace; this is the backstop.
        configuration.maximumGracefulShutdownDuration = grace + .seconds(10)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
        // The database stays locked against a second supervisor until this one has stopped.
        withExtendedLifetime(report.lock) {}
    }
}
