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
    private var lastProgressWrite = ContinuousClock.now
    /// Progress feeds bars and the restart point of a resumed transfer: written at most about
    /// once a second, whatever the workers send.
    static let progressInterval: Duration = .seconds(1)

    mutating func add(_ outcome: WorkerMessage.Outcome, from worker: WorkerID, role: WorkerRole) {
        entries.append(Entry(worker: worker, role: role, outcome: outcome))
        progress[outcome.lease.jobID] = nil
    }

    mutating func add(_ report: ProgressReport) { progress[report.lease.jobID] = report }

    mutating func heard(from worker: WorkerID) { heartbeats.insert(worker) }

    /// Drops a job's unwritten progress (the job was taken from its worker).
    mutating func forgetProgress(of job: JobID) { progress[job] = nil }

    /// Takes everything due: the reports and heartbeats, and progress once its interval has passed.
    mutating func take(now: ContinuousClock.Instant = .now) -> (entries: [Entry], batch: ReportBatch) {
        var batch = ReportBatch(
            reports: entries.map { entry in Self.report(entry.outcome, from: entry.worker) },
            heartbeats: Array(heartbeats))
        let taken = entries
        entries.removeAll(keepingCapacity: true)
        heartbeats.removeAll(keepingCapacity: true)
        if !progress.isEmpty, now - lastProgressWrite >= Self.progressInterval {
            batch.progress = Array(progress.values)
            progress.removeAll(keepingCapacity: true)
            lastProgressWrite = now
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
