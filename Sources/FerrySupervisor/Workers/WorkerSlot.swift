import FerryCore
import Foundation

/// One place for a worker process of a role: the current process in it, if any, and what the
/// fleet knows about that process.
struct WorkerSlot {
    enum Phase {
        /// Spawned (or spawning), no hello yet.
        case starting
        /// Said hello; alive as long as it keeps talking.
        case ready
        /// Exited; a replacement starts at `until`.
        case waitingToRestart(until: ContinuousClock.Instant)
        /// Not wanted any more (role scaled down, or the fleet is stopping).
        case retired
    }

    let role: WorkerRole
    let index: Int
    var phase: Phase = .retired
    var id: WorkerID?
    var pid: Int32?
    var startedAt = ContinuousClock.now
    var startedAtDate = Date()
    var lastHeard = ContinuousClock.now
    var inputs: AsyncStream<WorkerInput>.Continuation?
    /// Set when the fleet itself ends the process, so its exit is classified by our reason.
    var killCause: WorkerExitCause?
    /// SIGTERM sent; SIGKILL follows after the kill grace.
    var killSentAt: ContinuousClock.Instant?
    /// Asked to finish its jobs and leave (recycling, scaling down, an operator's restart).
    var drainSentAt: ContinuousClock.Instant?
    /// Asked to checkpoint and leave at once, after the drain took too long.
    var shutdownSentAt: ContinuousClock.Instant?
    /// Jobs the worker said it holds (its last heartbeat).
    var jobs: [JobID] = []
    /// Jobs the fleet assigned and has no outcome for yet, with when each last moved.
    var assigned: [JobID: AssignedJob] = [:]
    /// Jobs taken from this worker because they stalled: its late reports on them are expected.
    var handedOff: Set<JobID> = []
    /// When this process last had a job taken away for stalling.
    var lastStallAt: ContinuousClock.Instant?
    /// Outcomes this process has reported, for recycling after N jobs.
    var finishedJobs = 0
    /// Set as soon as the exit is known, before the store has been told, so nothing is assigned.
    var exiting = false
    var executes: [JobKind] = []
    /// Whether this process has already been counted as stable for the restart policy.
    var countedStable = false
    /// The memory cgroup it was last seen in, whose OOM-kill count tells an OOM kill apart.
    var memoryCgroup: MemoryCgroup?

    /// Whether the fleet is ending this process, one way or another: it gets no new work.
    var isLeaving: Bool { killSentAt != nil || drainSentAt != nil }
}

/// A job the fleet assigned to a worker, and the last time its transfer moved.
struct AssignedJob {
    var lease: JobLease
    var bytesDone: Int64 = 0
    var lastAdvance: ContinuousClock.Instant
    /// When the supervisor assigned it, for the attempt-duration histogram.
    var assignedAt: ContinuousClock.Instant = .now
    /// Since when it waits for its turn under a rate limit (a Telegram chat's flood control), and
    /// when the worker last said it still does (about every second while it waits).
    var waitingSince: ContinuousClock.Instant?
    var waitHeardAt: ContinuousClock.Instant?

    /// How long it has waited for its turn, when the worker said so within the last few seconds.
    func waitingForTurn(at now: ContinuousClock.Instant) -> Duration? {
        guard let waitingSince, let waitHeardAt, now - waitHeardAt < .seconds(5) else { return nil }
        return now - waitingSince
    }
}
