public import FerryConfig
public import FerryCore
public import Foundation

/// The settings the fleet runs with; the reload path replaces them live.
public struct FleetSettings: Sendable, Equatable {
    /// Worker processes per role (0 turns a role off), jobs per process, and when to recycle one.
    public var pools: [WorkerRole: FerryConfiguration.WorkerPool]
    public var heartbeatInterval: Duration
    public var hangTimeout: Duration
    /// Between SIGTERM and SIGKILL when a worker must go.
    public var killGrace: Duration
    /// A job that moved no bytes this long is handed to another worker; zero: never.
    public var stallTimeout: Duration
    /// How long a worker asked to drain (recycling, scaling down) may take to finish its jobs.
    public var drainGrace: Duration
    public var restart: RestartPolicy
    /// What every new worker is started with.
    public var work: WorkerSettings

    public init(
        pools: [WorkerRole: FerryConfiguration.WorkerPool], heartbeatInterval: Duration, hangTimeout: Duration,
        killGrace: Duration = .seconds(3), stallTimeout: Duration = .zero, drainGrace: Duration = .seconds(20),
        restart: RestartPolicy = RestartPolicy(), work: WorkerSettings = WorkerSettings()
    ) {
        self.work = work
        self.pools = pools
        self.heartbeatInterval = heartbeatInterval
        self.hangTimeout = hangTimeout
        self.killGrace = killGrace
        self.stallTimeout = stallTimeout
        self.drainGrace = drainGrace
        self.restart = restart
    }

    /// The fleet settings a configuration asks for.
    public init(_ configuration: FerryConfiguration) {
        let supervisor = configuration.supervisor
        self.init(
            pools: Dictionary(uniqueKeysWithValues: WorkerRole.allCases.map { ($0, configuration.pool(of: $0)) }),
            heartbeatInterval: supervisor.heartbeatInterval, hangTimeout: supervisor.hangTimeout,
            killGrace: supervisor.killGrace, stallTimeout: supervisor.stallTimeout,
            drainGrace: supervisor.shutdownGrace, restart: supervisor.restart.policy,
            work: configuration.workerSettings)
    }
}

/// One exit of one worker, for the admin page's crash-loop card and for health.
public struct WorkerExitReport: Sendable, Hashable {
    public var worker: WorkerID
    public var role: WorkerRole
    public var pid: Int32?
    public var at: Date
    public var uptime: Duration
    public var cause: WorkerExitCause
    public var exitCode: Int32?
    public var signal: Int32?
    public var stderrTail: String?
    /// How long the fleet waits before starting the replacement.
    public var restartDelay: Duration
}

/// The fleet at a glance, for STATUS=, health and metrics.
public struct FleetSnapshot: Sendable {
    public struct Role: Sendable {
        public var role: WorkerRole
        public var wanted: Int
        /// Workers that said hello and are alive.
        public var up: Int
        public var restarts: Int
        public var crashLooping: Bool
        public var lastCause: WorkerExitCause?
        /// Jobs handed on because they stalled, since start.
        public var stalls: Int
        /// Why the role's work is held back (a spool folder below its reserve), if it is.
        public var heldReason: String?
    }

    public struct Worker: Sendable {
        public var id: WorkerID
        public var role: WorkerRole
        public var pid: Int32?
        public var ready: Bool
        public var heartbeatAge: Duration?
        public var jobs: [JobID]
        /// Had a job taken away for stalling within the last stall timeout.
        public var stalled: Bool
        /// Asked to finish and leave (recycling, scaling down, restart).
        public var draining: Bool
        /// Outcomes reported by this process.
        public var finishedJobs: Int
        /// Its jobs waiting for their turn under a rate limit (a Telegram chat's flood control),
        /// and how long each has waited: running, holding the worker's slot, moving no bytes.
        public var waitingForTurn: [JobID: Duration] = [:]
    }

    public var roles: [Role]
    public var workers: [Worker]
    public var recentExits: [WorkerExitReport]

    /// Every job waiting for its turn under a rate limit, and how long it has waited.
    public var waitingForTurn: [JobID: Duration] {
        workers.reduce(into: [:]) { all, worker in all.merge(worker.waitingForTurn) { first, _ in first } }
    }

    /// Whether every wanted worker has said hello.
    public var allReady: Bool { roles.allSatisfy { $0.up >= $0.wanted } }

    /// `download 1/1, upload 1/1, …` for the STATUS= line.
    public var summary: String {
        var text = roles.filter { $0.wanted > 0 }.map { "\($0.role) \($0.up)/\($0.wanted)" }.joined(separator: ", ")
        let looping = roles.filter(\.crashLooping).map(\.role.rawValue)
        if !looping.isEmpty { text += "; crash-looping: " + looping.joined(separator: ", ") }
        let stalled = workers.filter(\.stalled).map(\.id.rawValue)
        if !stalled.isEmpty { text += "; stalled: " + stalled.joined(separator: ", ") }
        let waiting = waitingForTurn.count
        if waiting > 0 { text += "; \(waiting) waiting for their turn under a rate limit" }
        return text
    }
}

extension WorkerMessage {
    /// Whether the supervisor may have a free slot to fill after this message.
    var freesCapacity: Bool {
        switch self {
        case .hello, .outcome: true
        // Recorded updates are new downloads to dispatch.
        case .telegramUpdates: true
        case .heartbeat, .progress, .cleanupFindings, .telegramStatus, .telegramReplied: false
        }
    }
}

extension WorkerMessage.Outcome.Result {
    /// The `outcome` label of the job metrics.
    var metricLabel: String {
        switch self {
        case .succeeded: "succeeded"
        case .failed(let failure): failure.isRetryable ? "failed_retryable" : "failed_permanent"
        case .stopped: "stopped"
        }
    }
}
