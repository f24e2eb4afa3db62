public import FerryCore
public import Foundation

/// The settings the fleet runs with; the reload path replaces them live.
public struct FleetSettings: Sendable, Equatable {
    /// Worker processes per role (0 turns a role off) and jobs per process.
    public var pools: [WorkerRole: (processes: Int, concurrency: Int)]
    public var heartbeatInterval: Duration
    public var hangTimeout: Duration
    /// Between SIGTERM and SIGKILL when a worker must go.
    public var killGrace: Duration
    public var restart: RestartPolicy

    public init(
        pools: [WorkerRole: (processes: Int, concurrency: Int)], heartbeatInterval: Duration, hangTimeout: Duration,
        killGrace: Duration = .seconds(3), restart: RestartPolicy = RestartPolicy()
    ) {
        self.pools = pools
        self.heartbeatInterval = heartbeatInterval
        self.hangTimeout = hangTimeout
        self.killGrace = killGrace
        self.restart = restart
    }

    public static func == (lhs: FleetSettings, rhs: FleetSettings) -> Bool {
        lhs.heartbeatInterval == rhs.heartbeatInterval && lhs.hangTimeout == rhs.hangTimeout
            && lhs.killGrace == rhs.killGrace && lhs.restart == rhs.restart
            && lhs.pools.mapValues { [$0.processes, $0.concurrency] }
                == rhs.pools.mapValues { [$0.processes, $0.concurrency] }
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
    }

    public struct Worker: Sendable {
        public var id: WorkerID
        public var role: WorkerRole
        public var pid: Int32?
        public var ready: Bool
        public var heartbeatAge: Duration?
        public var jobs: [JobID]
    }

    public var roles: [Role]
    public var workers: [Worker]
    public var recentExits: [WorkerExitReport]

    /// Whether every wanted worker has said hello.
    public var allReady: Bool { roles.allSatisfy { $0.up >= $0.wanted } }

    /// `download 1/1, upload 1/1, …` for the STATUS= line.
    public var summary: String {
        var text = roles.filter { $0.wanted > 0 }.map { "\($0.role) \($0.up)/\($0.wanted)" }.joined(separator: ", ")
        let looping = roles.filter(\.crashLooping).map(\.role.rawValue)
        if !looping.isEmpty { text += "; crash-looping: " + looping.joined(separator: ", ") }
        return text
    }
}
