public import Foundation

/// A request to create a download.
public struct DownloadRequest: Hashable, Sendable {
    public var spec: DownloadSpec
    /// Sending the same key again returns the existing job instead of creating a second one.
    public var idempotencyKey: String?
    public var priority: Int
    /// Overrides the kind's policy for this job.
    public var maxAttempts: Int?

    public init(spec: DownloadSpec, idempotencyKey: String? = nil, priority: Int = 0, maxAttempts: Int? = nil) {
        self.spec = spec
        self.idempotencyKey = idempotencyKey
        self.priority = priority
        self.maxAttempts = maxAttempts
    }
}

/// A request to store a generated video permanently. The user and external request id name it:
/// sending the same pair again returns the existing job.
public struct VideoRequest: Hashable, Sendable {
    public var spec: VideoSpec
    public var priority: Int
    public var maxAttempts: Int?

    public init(spec: VideoSpec, priority: Int = 0, maxAttempts: Int? = nil) {
        self.spec = spec
        self.priority = priority
        self.maxAttempts = maxAttempts
    }
}

/// The answer to an enqueue: the job, and whether this call created it.
public struct Enqueued: Hashable, Sendable {
    public var job: Job
    /// false when an earlier request with the same key (or natural key) had created it.
    public var created: Bool

    public init(job: Job, created: Bool) {
        self.job = job
        self.created = created
    }
}

/// A job handed to a worker: its lease and what to do.
public struct ClaimedJob: Hashable, Sendable {
    public var job: Job
    public var payload: JobPayload

    public init(job: Job, payload: JobPayload) {
        self.job = job
        self.payload = payload
    }

    /// The lease the worker reports outcomes under.
    public var lease: JobLease { job.lease! }
}

/// A worker's report of how a running job is doing.
public struct ProgressReport: Hashable, Sendable {
    public var lease: JobLease
    public var progress: JobProgress
    /// Updated resume state; nil keeps what is stored.
    public var resumeState: String?

    public init(lease: JobLease, progress: JobProgress, resumeState: String? = nil) {
        self.lease = lease
        self.progress = progress
        self.resumeState = resumeState
    }
}

/// A worker's report of a successful attempt.
public struct JobCompletion: Hashable, Sendable {
    public var lease: JobLease
    public var result: JobResult

    public init(lease: JobLease, result: JobResult) {
        self.lease = lease
        self.result = result
    }
}

/// What the store did with a failed attempt.
public enum FailureOutcome: Hashable, Sendable {
    /// The job waits in the queue until `job.dueAt`.
    case retryScheduled(Job)
    /// The job ended failed.
    case failed(Job)

    public var job: Job {
        switch self {
        case .retryScheduled(let job), .failed(let job): job
        }
    }
}

/// A job the store put back in the queue because its owner was lost, or failed because that was
/// its last attempt.
public struct RequeuedJob: Hashable, Sendable {
    public var job: Job
    /// The worker that held it.
    public var previousOwner: WorkerID

    public init(job: Job, previousOwner: WorkerID) {
        self.job = job
        self.previousOwner = previousOwner
    }
}

/// Filters and paging for listing jobs.
public struct JobQuery: Hashable, Sendable {
    public var kind: JobKind?
    public var states: Set<JobState>
    /// Only jobs with an id below this (keyset paging, newest first).
    public var before: JobID?
    /// Only jobs due before this time (work that has waited since).
    public var dueBefore: Date?
    /// Oldest first instead of newest first.
    public var oldestFirst: Bool
    public var limit: Int

    public init(
        kind: JobKind? = nil, states: Set<JobState> = [], before: JobID? = nil, dueBefore: Date? = nil,
        oldestFirst: Bool = false, limit: Int = 50
    ) {
        self.kind = kind
        self.states = states
        self.before = before
        self.dueBefore = dueBefore
        self.oldestFirst = oldestFirst
        self.limit = limit
    }
}

/// How many jobs of a kind are in a state, and since when the oldest has waited.
public struct QueueCount: Hashable, Sendable {
    /// The SQL condition (SQLite's and PostgreSQL's alike) that keeps the unfinished states,
    /// both columns as lists, so that the queue index (kind, state, …) is read in ranges.
    public static let unfinishedCondition: String = {
        let kinds = JobKind.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        let states = JobState.unfinished.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return "WHERE kind IN (\(kinds)) AND state IN (\(states))"
    }()

    public var kind: JobKind
    public var state: JobState
    public var count: Int
    /// For waiting states: the creation time of the oldest job due now.
    public var oldestCreatedAt: Date?

    public init(kind: JobKind, state: JobState, count: Int, oldestCreatedAt: Date?) {
        self.kind = kind
        self.state = state
        self.count = count
        self.oldestCreatedAt = oldestCreatedAt
    }
}

/// A user's stored videos: filters, order and paging for `GET /api/user/videos`.
public struct VideoQuery: Hashable, Sendable {
    public enum Order: String, CaseIterable, Sendable {
        case createdAt, updatedAt
    }

    public var userID: String
    public var states: Set<JobState>
    public var orderBy: Order
    public var ascending: Bool
    /// 1-based page number.
    public var page: Int
    public var limit: Int

    public init(
        userID: String, states: Set<JobState> = [], orderBy: Order = .createdAt, ascending: Bool = false, page: Int = 1,
        limit: Int = 20
    ) {
        self.userID = userID
        self.states = states
        self.orderBy = orderBy
        self.ascending = ascending
        self.page = page
        self.limit = limit
    }
}

/// One page of a user's videos and how many there are in all.
public struct VideoPage: Hashable, Sendable {
    public var total: Int
    public var videos: [(job: Job, spec: VideoSpec)]

    public init(total: Int, videos: [(job: Job, spec: VideoSpec)]) {
        self.total = total
        self.videos = videos
    }

    public static func == (lhs: VideoPage, rhs: VideoPage) -> Bool {
        lhs.total == rhs.total && lhs.videos.map(\.job) == rhs.videos.map(\.job)
            && lhs.videos.map(\.spec) == rhs.videos.map(\.spec)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(total)
        hasher.combine(videos.map(\.job))
    }
}

extension JobCompletion {
    /// Why a result cannot even be checked (its SHA-256 is not 64 hex digits), refused by every
    /// store before any transaction; nil when it is well formed.
    public static func malformedResult(_ completion: JobCompletion) -> StoreError? {
        let sha = completion.result.sha256
        guard sha.count != 64 || !sha.allSatisfy(\.isHexDigit) else { return nil }
        return StoreError(
            .invalidInput, "job \(completion.lease.jobID): result SHA-256 '\(sha)' is not 64 hex digits",
            jobID: completion.lease.jobID)
    }
}

extension DownloadRequest {
    /// The request as every store keeps it (hashes in lower case), or why no store takes it:
    /// what the schema cannot express well is checked here, before any transaction.
    public func normalized() throws(StoreError) -> DownloadRequest {
        var request = self
        request.spec.expectedSHA256 = request.spec.expectedSHA256?.lowercased()
        if Set(request.spec.uploadTargets).count != request.spec.uploadTargets.count {
            throw StoreError(.invalidInput, "upload targets must not repeat: \(request.spec.uploadTargets)")
        }
        if let max = request.maxAttempts, max < 1 {
            throw StoreError(.invalidInput, "max attempts must be at least 1, not \(max)")
        }
        return request
    }
}

extension JobLease {
    /// Checks that this lease still holds `job` (running, same owner, same attempt); a report
    /// under a lost lease is refused, never applied.
    public func verifyHolds(_ job: Job) throws(StoreError) {
        guard job.state.phase == .running, job.owner == owner, job.attempt == attempt else {
            let holder = job.owner.map { "held by \($0), attempt \(job.attempt)" } ?? "not running"
            throw StoreError(
                .leaseLost,
                "job \(job.id) attempt \(attempt) by \(owner) no longer holds the job (it is \(job.state), \(holder)); its outcome is discarded",
                jobID: job.id)
        }
    }
}
