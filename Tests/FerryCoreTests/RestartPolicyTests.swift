import FerryCore
import Testing

@Suite("Restarting workers")
struct RestartPolicyTests {
    /// A deterministic generator so the jittered waits are reproducible.
    struct Sequence: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    let policy = RestartPolicy(
        initialDelay: .milliseconds(100), maxDelay: .seconds(10), stableAfter: .seconds(60), crashLoopAfter: 4)

    @Test("A clean or deliberate exit is replaced at once and resets the failures")
    func cleanExitsRestartAtOnce() {
        var state = RoleRestartState()
        var generator = Sequence(state: 1)
        _ = state.recordExit(.crash, uptime: .seconds(1), policy: policy, using: &generator)
        #expect(state.recordExit(.clean, uptime: .seconds(1), policy: policy, using: &generator) == .zero)
        #expect(state.consecutiveFailures == 0)
        #expect(state.recordExit(.recycled, uptime: .seconds(1), policy: policy, using: &generator) == .zero)
        #expect(state.restarts == 3)
    }

    @Test("Failures back off exponentially with jitter up to the cap, and the role is marked crash-looping")
    func failuresBackOff() {
        var state = RoleRestartState()
        var generator = Sequence(state: 7)
        var waits: [Duration] = []
        for _ in 0..<12 {
            waits.append(state.recordExit(.crash, uptime: .milliseconds(50), policy: policy, using: &generator))
        }
        #expect(waits[0] == .zero, "the first failure of a healthy role is replaced at once")
        for (index, wait) in waits.enumerated().dropFirst() {
            let ceiling = min(Duration.milliseconds(100) * (1 << (index - 1)), .seconds(10))
            #expect(wait >= ceiling / 2 && wait <= ceiling, "wait \(index + 1) = \(wait), ceiling \(ceiling)")
        }
        #expect(waits.last! >= .seconds(5), "still retried at the cap, never abandoned")
        #expect(state.isCrashLooping(under: policy))
        #expect(state.lastCause == .crash)
    }

    @Test("Crash-looping starts at the configured number of consecutive failures and recovery resets it")
    func crashLoopThresholdAndRecovery() {
        var state = RoleRestartState()
        var generator = Sequence(state: 3)
        for cause in [WorkerExitCause.signal, .hang, .outOfMemory] {
            _ = state.recordExit(cause, uptime: .seconds(1), policy: policy, using: &generator)
            #expect(!state.isCrashLooping(under: policy))
        }
        _ = state.recordExit(.protocolViolation, uptime: .seconds(1), policy: policy, using: &generator)
        #expect(state.isCrashLooping(under: policy))
        state.recordStable()
        #expect(!state.isCrashLooping(under: policy))
        #expect(state.consecutiveFailures == 0)
    }

    @Test("A worker that ran past the stable period before failing does not continue a loop")
    func longRunningFailureStartsOver() {
        var state = RoleRestartState()
        var generator = Sequence(state: 5)
        for _ in 0..<3 { _ = state.recordExit(.crash, uptime: .seconds(1), policy: policy, using: &generator) }
        let wait = state.recordExit(.crash, uptime: .seconds(120), policy: policy, using: &generator)
        #expect(state.consecutiveFailures == 1)
        #expect(wait == .zero, "counted as a first failure again")
    }

    @Test("Only crashes, signals, OOM kills, hangs and protocol violations count as failures")
    func failureClasses() {
        #expect(
            WorkerExitCause.allCases.filter(\.isFailure) == [.crash, .signal, .outOfMemory, .hang, .protocolViolation])
    }
}
