/// Everything the supervisor heard from its workers since its last commit, applied in one
/// transaction (group commit): the attempts that ended, progress, heartbeats, then the claims for
/// the capacity those attempts freed. One commit and one fsync carry the whole batch, and each
/// report keeps its own guarantee: a refused report (its lease lost, its result invalid) is rolled
/// back alone, and the others are applied.
public struct ReportBatch: Hashable, Sendable {
    /// A worker's report on one attempt.
    public enum Report: Hashable, Sendable {
        case completed(JobCompletion)
        /// A retry is scheduled with backoff, or the job ends failed (see ``JobStore/fail(_:with:resumeState:)``).
        case failed(JobLease, JobFailure, resumeState: String?)
        /// Stopped on request: the job goes back without counting the attempt (see ``JobStore/release(_:reason:resumeState:)``).
        case stopped(JobLease, reason: String, resumeState: String?)

        public var lease: JobLease {
            switch self {
            case .completed(let completion): completion.lease
            case .failed(let lease, _, _), .stopped(let lease, _, _): lease
            }
        }
    }

    /// Up to `limit` due jobs of `kind` for `owner`, as ``JobStore/claimDueJobs(of:for:limit:)``.
    public struct Claim: Hashable, Sendable {
        public var kind: JobKind
        public var owner: WorkerID
        public var limit: Int

        public init(kind: JobKind, owner: WorkerID, limit: Int) {
            self.kind = kind
            self.owner = owner
            self.limit = limit
        }
    }

    public var reports: [Report]
    public var progress: [ProgressReport]
    /// Workers heard from: their heartbeat time is set to the batch's.
    public var heartbeats: [WorkerID]
    /// Applied after the reports, so a slot freed by this batch is filled by it.
    public var claims: [Claim]

    public init(
        reports: [Report] = [], progress: [ProgressReport] = [], heartbeats: [WorkerID] = [], claims: [Claim] = []
    ) {
        self.reports = reports
        self.progress = progress
        self.heartbeats = heartbeats
        self.claims = claims
    }

    public var isEmpty: Bool { reports.isEmpty && progress.isEmpty && heartbeats.isEmpty && claims.isEmpty }
}

/// What a committed ``ReportBatch`` did, item by item, in the batch's order.
public struct AppliedBatch: Hashable, Sendable {
    /// What one report did to its job.
    public enum Effect: Hashable, Sendable {
        case completed(Job)
        case failed(FailureOutcome)
        case released(Job)
    }

    /// One per report: its effect, or why the store refused it (nothing of it was applied).
    public var reports: [Result<Effect, StoreError>]
    /// One per claim: the jobs claimed, or why the claim was refused (e.g. its worker had exited).
    public var claims: [Result<[ClaimedJob], StoreError>]
    /// Progress whose lease was lost (skipped).
    public var lostProgress: [JobLease]

    public init(
        reports: [Result<Effect, StoreError>], claims: [Result<[ClaimedJob], StoreError>], lostProgress: [JobLease]
    ) {
        self.reports = reports
        self.claims = claims
        self.lostProgress = lostProgress
    }
}
