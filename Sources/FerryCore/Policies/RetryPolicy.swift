import Foundation

/// How a job kind is retried: how many attempts, how long to wait between them, and how much
/// randomness to add so that many failing jobs do not retry in lock-step.
///
/// The wait after attempt *n* has a ceiling of `min(maxDelay, initialDelay × multiplier^(n−1))`.
/// With ``Jitter/full`` the wait is drawn uniformly from `[0, ceiling]` (the AWS "full jitter"
/// scheme, which spreads retries best); with ``Jitter/equal`` from `[ceiling/2, ceiling]`, which
/// guarantees that waits grow; with ``Jitter/none`` it is the ceiling itself.
public struct RetryPolicy: Hashable, Sendable {
    public enum Jitter: String, CaseIterable, Hashable, Sendable {
        case none
        case equal
        case full
    }

    /// Attempts in all, the first included. A job that fails its last attempt ends `failed`.
    public var maxAttempts: Int
    public var initialDelay: Duration
    public var maxDelay: Duration
    public var multiplier: Double
    public var jitter: Jitter
    /// The longest `Retry-After` a server may impose; a longer one is cut to this.
    public var maxRetryAfter: Duration

    public init(
        maxAttempts: Int,
        initialDelay: Duration,
        maxDelay: Duration,
        multiplier: Double = 2,
        jitter: Jitter = .full,
        maxRetryAfter: Duration = .seconds(3600)
    ) {
        precondition(maxAttempts >= 1, "a job has at least one attempt")
        precondition(initialDelay >= .zero && maxDelay >= initialDelay, "delays must be ordered")
        precondition(multiplier >= 1, "delays must not shrink")
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.multiplier = multiplier
        self.jitter = jitter
        self.maxRetryAfter = maxRetryAfter
    }

    /// The longest wait after the given attempt (1-based) has failed.
    public func ceiling(afterAttempt attempt: Int) -> Duration {
        let exponent = Double(max(attempt, 1) - 1)
        let seconds = initialDelay.inSeconds * pow(multiplier, exponent)
        // pow overflows to +inf long before Duration would; cap in Double first.
        return seconds >= maxDelay.inSeconds ? maxDelay : .seconds(seconds)
    }

    /// The wait after the given attempt has failed, honouring a server's `Retry-After`: the wait
    /// is never shorter than what the server asked for (up to ``maxRetryAfter``).
    public func delay(
        afterAttempt attempt: Int,
        retryAfter: Duration? = nil,
        using generator: inout some RandomNumberGenerator
    ) -> Duration {
        let ceiling = ceiling(afterAttempt: attempt).inSeconds
        let jittered: Double =
            switch jitter {
            case .none: ceiling
            case .equal: ceiling / 2 + Double.random(in: 0...(ceiling / 2), using: &generator)
            case .full: Double.random(in: 0...ceiling, using: &generator)
            }
        var wait = Duration.seconds(jittered)
        if let retryAfter, retryAfter > wait {
            wait = min(retryAfter, maxRetryAfter)
        }
        return wait
    }

    /// What to do after attempt `attempt` failed with `failure`.
    public func decide(
        afterAttempt attempt: Int,
        maxAttempts jobMaxAttempts: Int? = nil,
        failure: JobFailure,
        using generator: inout some RandomNumberGenerator
    ) -> RetryDecision {
        let limit = jobMaxAttempts ?? maxAttempts
        guard failure.isRetryable else { return .giveUp(.permanent) }
        guard attempt < limit else { return .giveUp(.attemptsExhausted(limit)) }
        return .retry(after: delay(afterAttempt: attempt, retryAfter: failure.retryAfter, using: &generator))
    }
}

/// The outcome of ``RetryPolicy/decide(afterAttempt:maxAttempts:failure:using:)``.
public enum RetryDecision: Hashable, Sendable {
    case retry(after: Duration)
    case giveUp(GiveUpReason)

    public enum GiveUpReason: Hashable, Sendable, CustomStringConvertible {
        case permanent
        case attemptsExhausted(Int)

        public var description: String {
            switch self {
            case .permanent: "the failure is permanent"
            case .attemptsExhausted(let limit): "all \(limit) attempts failed"
            }
        }
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    public var inSeconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }

    /// Whole milliseconds, rounded down; how the store keeps times.
    public var inMilliseconds: Int64 {
        let (whole, fraction) = components
        return whole * 1000 + fraction / 1_000_000_000_000_000
    }
}

extension RetryPolicy {
    /// A retry delay for an event's reason: tenths of a second below 10 s, whole seconds above.
    public static func describe(_ delay: Duration) -> String {
        let seconds = delay.inSeconds
        return seconds < 10 ? String(format: "%.1f s", seconds) : "\(Int(seconds.rounded())) s"
    }
}
