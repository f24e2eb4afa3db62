import FerryCore

/// What the fleet has heard from its workers and not yet committed: reports on attempts that
/// ended, the latest progress of each job, and the workers heard from. The fleet hands it all to
/// the store as one ``ReportBatch`` (group commit), and nothing in it is acted on (no reply, no
/// follow-up, no clean-up) before that commit.
struct ReportBatcher {
    /// An attempt's report and the worker that made it.
    struct Entry {
        let worker: WorkerID
        let role: WorkerRole
        let outcome: WorkerMessage.Outcome
    }

    private var entries: [Entry] = []
    private var progress: [JobID: ProgressReport] = [:]
    private var heartbeats: Set<WorkerID> = []
    /// When the oldest unwritten heartbeat was heard.
    private var firstUnwrittenHeartbeat: ContinuousClock.Instant?
    private var lastProgressWrite = ContinuousClock.now
    /// Progress feeds bars and the restart point of a resumed transfer: written at most about
    /// once a second, whatever the workers send.
    static let progressInterval: Duration = .seconds(1)

    mutating func add(_ outcome: WorkerMessage.Outcome, from worker: WorkerID, role: WorkerRole) {
        entries.append(Entry(worker: worker, role: role, outcome: outcome))
        progress[outcome.lease.jobID] = nil
    }

    mutating func add(_ report: ProgressReport) { progress[report.lease.jobID] = report }

    mutating func heard(from worker: WorkerID, at now: ContinuousClock.Instant = .now) {
        heartbeats.insert(worker)
        if firstUnwrittenHeartbeat == nil { firstUnwrittenHeartbeat = now }
    }

    /// When what is kept must be committed even if nothing else comes: reports at once, progress
    /// after its interval, heartbeats within `heartbeatDelay` of the first unwritten one (a
    /// heartbeat's record only says when a worker was last heard, so idle workers' heartbeats
    /// share one commit instead of each costing an fsync); nil when nothing is kept.
    func commitDue(heartbeatDelay: Duration) -> ContinuousClock.Instant? {
        if !entries.isEmpty { return .now }
        var due = firstUnwrittenHeartbeat.map { $0 + heartbeatDelay }
        if !progress.isEmpty { due = min(due ?? .now, lastProgressWrite + Self.progressInterval) }
        return due
    }

    /// Drops a job's unwritten progress (the job was taken from its worker).
    mutating func forgetProgress(of job: JobID) { progress[job] = nil }

    /// Takes everything due: the reports and heartbeats, and progress once its interval has passed
    /// — or at once for the jobs of `leaving`, a worker that has exited: its last progress may
    /// carry what the next attempt resumes from (a Telegram message id, an S3 upload id), and its
    /// jobs are requeued right after this batch.
    /// Heartbeats go with anything else that is committed, or alone once `heartbeatDelay` has
    /// passed since the first of them.
    mutating func take(
        now: ContinuousClock.Instant = .now, flushingProgressOf leaving: WorkerID? = nil,
        heartbeatDelay: Duration = .zero
    ) -> (entries: [Entry], batch: ReportBatch) {
        var batch = ReportBatch(reports: entries.map { entry in Self.report(entry.outcome, from: entry.worker) })
        let taken = entries
        entries.removeAll(keepingCapacity: true)
        if !progress.isEmpty, now - lastProgressWrite >= Self.progressInterval {
            batch.progress = Array(progress.values)
            progress.removeAll(keepingCapacity: true)
            lastProgressWrite = now
        } else if let leaving {
            let last = progress.filter { $0.value.lease.owner == leaving }
            batch.progress = Array(last.values)
            for job in last.keys { progress[job] = nil }
        }
        let heartbeatsDue =
            heartbeatDelay <= .zero || firstUnwrittenHeartbeat.map { now - $0 >= heartbeatDelay } == true
        if !heartbeats.isEmpty, heartbeatsDue || !batch.isEmpty || leaving != nil {
            batch.heartbeats = Array(heartbeats)
            heartbeats.removeAll(keepingCapacity: true)
            firstUnwrittenHeartbeat = nil
        }
        return (taken, batch)
    }

    /// The store's form of a worker's report.
    static func report(_ outcome: WorkerMessage.Outcome, from worker: WorkerID) -> ReportBatch.Report {
        switch outcome.result {
        case .succeeded(let result):
            .completed(JobCompletion(lease: outcome.lease, result: result))
        case .failed(let failure):
            .failed(outcome.lease, failure, resumeState: outcome.resumeState)
        case .stopped(let resumeState):
            .stopped(outcome.lease, reason: "stopped by \(worker) on request", resumeState: resumeState)
        }
    }
}
