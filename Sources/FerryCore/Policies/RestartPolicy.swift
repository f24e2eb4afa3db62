/// How the supervisor restarts the workers of one role: at once after a clean exit, with
/// exponential backoff and jitter after a failure, capped, and forgiven once a worker has run
/// long enough. A role whose workers keep failing is reported as crash-looping and keeps being
/// retried at the cap, never abandoned.
public struct RestartPolicy: Hashable, Sendable {
    /// The wait before the second restart in a row after failures (the first is immediate).
    public var initialDelay: Duration
    /// The longest wait between restarts.
    public var maxDelay: Duration
    public var multiplier: Double
    /// A worker that ran at least this long before failing resets the backoff.
    public var stableAfter: Duration
    /// Consecutive failures after which the role counts as crash-looping.
    public var crashLoopAfter: Int

    public init(
        initialDelay: Duration = .milliseconds(100),
        maxDelay: Duration = .seconds(30),
        multiplier: Double = 2,
        stableAfter: Duration = .seconds(60),
        crashLoopAfter: Int = 5
    ) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.multiplier = multiplier
        self.stableAfter = stableAfter
        self.crashLoopAfter = crashLoopAfter
    }

    /// The retry policy whose ceilings are this policy's delays (equal jitter: waits that grow).
    var backoff: RetryPolicy {
        RetryPolicy(
            maxAttempts: Int.max, initialDelay: initialDelay, maxDelay: maxDelay, multiplier: multiplier,
            jitter: .equal)
    }
}

/// Why a worker process ended; decides how it is restarted.
public enum WorkerExitCause: String, Hashable, Sendable, Codable, CaseIterable {
    /// Exit status 0 after a drain or shutdown we asked for.
    case clean
    /// The supervisor replaced it on purpose: recycled after N jobs or above its memory limit, or
    /// an operator asked for a restart.
    case recycled
    /// A non-zero exit status.
    case crash
    /// Killed by a signal it did not get from us.
    case signal
    /// Killed by the kernel's out-of-memory killer.
    case outOfMemory = "oom"
    /// Stopped heart-beating and was killed by us.
    case hang
    /// Sent something that is not the protocol, and was killed by us.
    case protocolViolation = "protocol_violation"

    /// Whether this exit counts towards the backoff and crash-loop detection.
    public var isFailure: Bool {
        switch self {
        case .clean, .recycled: false
        case .crash, .signal, .outOfMemory, .hang, .protocolViolation: true
        }
    }
}

/// The restart state of one role: how many failures in a row, and whether it is crash-looping.
public struct RoleRestartState: Hashable, Sendable {
    public private(set) var consecutiveFailures = 0
    public private(set) var restarts = 0
    public private(set) var lastCause: WorkerExitCause?

    public init() {}

    /// Whether the role is failing over and over (health `fail`, STATUS=, metrics).
    public func isCrashLooping(under policy: RestartPolicy) -> Bool {
        consecutiveFailures >= policy.crashLoopAfter
    }

    /// Records an exit after `uptime` and returns how long to wait before starting a replacement.
    public mutating func recordExit(
        _ cause: WorkerExitCause,
        uptime: Duration,
        policy: RestartPolicy,
        using generator: inout some RandomNumberGenerator
    ) -> Duration {
        restarts += 1
        lastCause = cause
        guard cause.isFailure else {
            consecutiveFailures = 0
            return .zero
        }
        // A worker that ran for a while before failing is not part of a loop.
        if uptime >= policy.stableAfter { consecutiveFailures = 0 }
        consecutiveFailures += 1
        // The first failure of a healthy role is replaced at once; repeated ones back off.
        guard consecutiveFailures > 1 else { return .zero }
        return policy.backoff.delay(afterAttempt: consecutiveFailures - 1, using: &generator)
    }

    /// Forgives past failures once a replacement has run for the stable period.
    public mutating func recordStable() {
        consecutiveFailures = 0
    }
}
