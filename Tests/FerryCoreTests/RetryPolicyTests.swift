import FerryCore
import Testing

/// The backoff schedule: bounds, cap, jitter range and Retry-After.
@Suite("Retry policy")
struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 5, initialDelay: .seconds(2), maxDelay: .seconds(60), multiplier: 3)

    @Test("The ceiling grows by the multiplier and stops at the cap, even for absurd attempt numbers")
    func ceiling() {
        #expect(policy.ceiling(afterAttempt: 1) == .seconds(2))
        #expect(policy.ceiling(afterAttempt: 2) == .seconds(6))
        #expect(policy.ceiling(afterAttempt: 3) == .seconds(18))
        #expect(policy.ceiling(afterAttempt: 4) == .seconds(54))
        #expect(policy.ceiling(afterAttempt: 5) == .seconds(60))
        #expect(policy.ceiling(afterAttempt: 10_000) == .seconds(60))
        #expect(policy.ceiling(afterAttempt: 0) == .seconds(2), "attempt numbers below 1 count as the first")
    }

    @Test(
        "Each jitter scheme draws from its range: full [0, c], equal [c/2, c], none exactly c",
        arguments: RetryPolicy.Jitter.allCases)
    func jitterRange(jitter: RetryPolicy.Jitter) {
        var policy = policy
        policy.jitter = jitter
        var generator = SystemRandomNumberGenerator()
        for attempt in 1...6 {
            let ceiling = policy.ceiling(afterAttempt: attempt)
            let lower: Duration =
                switch jitter {
                case .full: .zero
                case .equal: ceiling / 2
                case .none: ceiling
                }
            var draws: Set<Duration> = []
            for _ in 0..<500 {
                let wait = policy.delay(afterAttempt: attempt, using: &generator)
                #expect(wait >= lower && wait <= ceiling, "attempt \(attempt): \(wait) outside [\(lower), \(ceiling)]")
                draws.insert(wait)
            }
            // Jitter spreads the waits; without it every wait is the same.
            #expect(jitter == .none ? draws.count == 1 : draws.count > 100, "\(jitter): \(draws.count) distinct waits")
        }
    }

    @Test("Full jitter spreads waits over the whole range, not near one end")
    func fullJitterSpread() {
        var generator = SystemRandomNumberGenerator()
        let waits = (0..<2000).map { _ in policy.delay(afterAttempt: 5, using: &generator).inSeconds }
        let mean = waits.reduce(0, +) / Double(waits.count)
        #expect(mean > 25 && mean < 35, "mean \(mean) s, expected about 30 s")
        #expect(waits.contains { $0 < 6 } && waits.contains { $0 > 54 })
    }

    @Test("A server's Retry-After sets a floor, cut to the policy's maximum")
    func retryAfter() {
        var policy = policy
        policy.maxRetryAfter = .seconds(300)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(45), using: &generator) == .seconds(45))
            #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(86_400), using: &generator) == .seconds(300))
            // A Retry-After shorter than the drawn wait does not shorten it.
            let wait = policy.delay(afterAttempt: 5, retryAfter: .milliseconds(1), using: &generator)
            #expect(wait >= .milliseconds(1) && wait <= .seconds(60))
        }
    }

    @Test("Retry while attempts remain and the failure is retryable; give up otherwise")
    func decisions() {
        var generator = SystemRandomNumberGenerator()
        let busy = JobFailure.retryable("http_503", "busy")
        for attempt in 1..<5 {
            guard case .retry(let wait) = policy.decide(afterAttempt: attempt, failure: busy, using: &generator) else {
                Issue.record("attempt \(attempt) should retry")
                continue
            }
            #expect(wait <= policy.ceiling(afterAttempt: attempt))
        }
        #expect(policy.decide(afterAttempt: 5, failure: busy, using: &generator) == .giveUp(.attemptsExhausted(5)))
        #expect(
            policy.decide(afterAttempt: 1, failure: .permanent("http_404", "gone"), using: &generator)
                == .giveUp(.permanent))
        // A job's own limit overrides the kind's.
        #expect(
            policy.decide(afterAttempt: 2, maxAttempts: 2, failure: busy, using: &generator)
                == .giveUp(.attemptsExhausted(2)))
        if case .giveUp = policy.decide(afterAttempt: 7, maxAttempts: 9, failure: busy, using: &generator) {
            Issue.record("a job allowed 9 attempts retries after its 7th")
        }
    }

    @Test("Video storage is retried at least 3 times with waits that are guaranteed to grow")
    func videoDefaults() {
        let video = RetryPolicies.standard.video
        #expect(video.maxAttempts >= 4, "at least 3 retries after the first attempt")
        #expect(video.jitter == .equal)
        var generator = SystemRandomNumberGenerator()
        for attempt in 1..<(video.maxAttempts - 1) where video.ceiling(afterAttempt: attempt + 1) < video.maxDelay {
            for _ in 0..<100 {
                let this = video.delay(afterAttempt: attempt, using: &generator)
                let next = video.delay(afterAttempt: attempt + 1, using: &generator)
                #expect(next >= this, "attempt \(attempt + 1) waited \(next), less than \(this) before it")
            }
        }
    }
}
