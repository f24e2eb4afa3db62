/// The requests that move a job from one state to another. Each transition of a job is caused by
/// exactly one command; the event log records which.
public enum JobCommand: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// A worker takes a waiting job.
    case claim
    /// The worker reports success with a result.
    case complete
    /// The worker reports a retryable failure and attempts remain: wait, then run again.
    case scheduleRetry = "schedule_retry"
    /// The job's owner is gone (process died, hung, supervisor restarted): back to the queue.
    case requeue
    /// A permanent failure, or retries exhausted.
    case fail
    /// An operator or client stops the job.
    case cancel
    /// An operator holds the job back.
    case pause
    /// An operator lets a paused job continue.
    case resume
    /// An operator asks a finished, unsuccessful job to run again.
    case retry
    /// The local source of a delivered upload was removed.
    case markCleaned = "mark_cleaned"
    /// The cleanup worker found a finished job's file missing or damaged: fetch it again.
    case refetch
    /// A cleanup run made a finished record for a file it found with none (`cleanup.orphans: adopt`).
    case adopt

    public var description: String { rawValue }
}
