/// Wakes a loop that sleeps until its next deadline, or earlier when something changed: the loop
/// awaits ``rings``; ``set(_:)`` arms one timer for the earliest deadline asked, ``ring()`` wakes
/// it now. An idle supervisor then wakes only when there is something to do, instead of on a
/// fixed period.
///
/// Owned by one actor (its timer handle is state of that actor); ``ring()`` may be called from
/// anywhere, and rings made while the loop is busy fold into one.
struct AlarmClock {
    /// One element per wake-up; ends with ``stop()``.
    let rings: AsyncStream<Void>
    private let bell: AsyncStream<Void>.Continuation
    private var timer: Task<Void, Never>?
    private var armedFor: ContinuousClock.Instant?

    init() {
        (rings, bell) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Wakes the loop now.
    func ring() { bell.yield() }

    /// Makes sure the loop wakes by `deadline`: a timer armed for that time or earlier is kept
    /// (the loop asks again when it wakes), a later one is replaced.
    mutating func set(_ deadline: ContinuousClock.Instant, now: ContinuousClock.Instant = .now) {
        if let armedFor, armedFor > now, armedFor <= deadline { return }
        timer?.cancel()
        guard deadline > now else {
            armedFor = nil
            timer = nil
            return ring()
        }
        armedFor = deadline
        let bell = bell
        // A tenth of the wait (at most a second) of slack lets libdispatch fire this timer with
        // another one due about then (Hummingbird's date cache ticks every second on the same
        // clock) instead of waking the process once more.
        let wait = deadline - now
        let tolerance = min(wait / 10, .seconds(1))
        let wakeAt = SuspendingClock.now + wait
        timer = Task {
            try? await Task.sleep(until: wakeAt, tolerance: tolerance, clock: SuspendingClock())
            if !Task.isCancelled { bell.yield() }
        }
    }

    /// Ends ``rings`` and the armed timer.
    mutating func stop() {
        timer?.cancel()
        timer = nil
        bell.finish()
    }
}
