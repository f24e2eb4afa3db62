import Synchronization

/// The deadlines of a store's calls, kept by ONE timer for all of them. A timer per call (a task
/// sleeping until the deadline, cancelled with the answer) cost a task, a dispatch timer and a
/// wake-up on every round trip to the server. The timer ticks only while calls are in flight, a
/// few times a second, so a deadline is met within a tick and an idle store never wakes.
///
/// A `Mutex`, not an actor: entering and leaving is on the path of every store call, and an actor
/// hop there would cost the wake-up this type exists to save.
final class CallDeadlines: Sendable {
    /// How often the timer looks while calls are in flight: how late a deadline may be met.
    static let tick = Duration.milliseconds(200)

    private struct Call {
        let deadline: ContinuousClock.Instant
        let expire: @Sendable () -> Void
    }

    private struct State {
        var calls: [UInt64: Call] = [:]
        var nextID: UInt64 = 0
        var ticking = false
    }

    private let state = Mutex(State())

    /// Runs `operation` in a task of its own and answers with its result, or with `timeout()` once
    /// `limit` has passed, whichever comes first; the operation is then cancelled and left to end
    /// on its own (it may not heed cancellation: that is why the caller is not made to wait).
    /// With `heedingCancellation`, for callers that must not wait behind the operation, a
    /// cancelled caller is answered at once too (`CancellationError`).
    func run<T: Sendable>(
        within limit: Duration, heedingCancellation: Bool = false,
        _ operation: @escaping @Sendable () async throws -> T, timeout: @escaping @Sendable () -> any Error
    ) async throws -> T {
        let answer = OnceAnswer<T>()
        let waiting = { @Sendable () async throws -> T in
            try await withCheckedThrowingContinuation { continuation in
                answer.set(continuation)
                let id = self.enter(until: .now + limit) {
                    if answer.resume(.failure(timeout())) { answer.cancelWork() }
                }
                answer.setWork(
                    Task {
                        do { answer.resume(.success(try await operation())) } catch { answer.resume(.failure(error)) }
                        self.leave(id)
                    })
            }
        }
        guard heedingCancellation else { return try await waiting() }
        return try await withTaskCancellationHandler(operation: waiting) {
            if answer.resume(.failure(CancellationError())) { answer.cancelWork() }
        }
    }

    private func enter(until deadline: ContinuousClock.Instant, expire: @escaping @Sendable () -> Void) -> UInt64 {
        let (id, startTimer) = state.withLock { state -> (UInt64, Bool) in
            state.nextID += 1
            state.calls[state.nextID] = Call(deadline: deadline, expire: expire)
            defer { state.ticking = true }
            return (state.nextID, !state.ticking)
        }
        if startTimer { Task { await self.tickWhileCallsRemain() } }
        return id
    }

    private func leave(_ id: UInt64) {
        state.withLock { _ = $0.calls.removeValue(forKey: id) }
    }

    /// Fails the calls past their deadline every tick; stops once none is in flight.
    private func tickWhileCallsRemain() async {
        while true {
            try? await Task.sleep(for: Self.tick)
            let now = ContinuousClock.now
            let (expired, stop) = state.withLock { state -> ([Call], Bool) in
                let expired = state.calls.filter { $0.value.deadline <= now }
                for id in expired.keys { state.calls[id] = nil }
                if state.calls.isEmpty { state.ticking = false }
                return (Array(expired.values), !state.ticking)
            }
            for call in expired { call.expire() }
            if stop { return }
        }
    }
}

/// A continuation resumed by whichever comes first, the answer, the deadline or the caller's
/// cancellation (which may come before the continuation is set: the answer then waits for it).
private final class OnceAnswer<T: Sendable>: Sendable {
    private let state = Mutex<
        (continuation: CheckedContinuation<T, any Error>?, done: Bool, early: Result<T, any Error>?)
    >((nil, false, nil))
    private let work = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLock { state -> Result<T, any Error>? in
            state.continuation = continuation
            return state.early
        }
        if let early { continuation.resume(with: early) }
    }

    /// Holds the operation's task; cancels it at once when the caller was already answered.
    func setWork(_ task: Task<Void, Never>) {
        if work.withLock({ work in
            work.task = task
            return work.cancelled
        }) {
            task.cancel()
        }
    }

    /// Cancels the operation, once the deadline or the caller's cancellation has answered for it.
    func cancelWork() {
        work.withLock { work in
            work.cancelled = true
            return work.task
        }?.cancel()
    }

    /// Resumes the caller unless it was already; returns whether this call did.
    @discardableResult
    func resume(_ result: Result<T, any Error>) -> Bool {
        let (answered, continuation) = state.withLock { state -> (Bool, CheckedContinuation<T, any Error>?) in
            guard !state.done else { return (false, nil) }
            state.done = true
            if state.continuation == nil { state.early = result }
            return (true, state.continuation)
        }
        continuation?.resume(with: result)
        return answered
    }
}
