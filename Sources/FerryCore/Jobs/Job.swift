public import Foundation

/// A job as the store holds it: its lifecycle columns, common to every kind.
public struct Job: Hashable, Sendable {
    public var id: JobID
    public var kind: JobKind
    public var state: JobState
    public var idempotencyKey: String?
    public var priority: Int
    /// The number of the current or last attempt; 0 before the first claim.
    public var attempt: Int
    public var maxAttempts: Int
    /// The worker holding the job; set exactly while it is running.
    public var owner: WorkerID?
    public var createdAt: Date
    public var updatedAt: Date
    /// When a waiting job may be claimed (later than now while a retry waits out its backoff).
    public var dueAt: Date
    public var startedAt: Date?
    public var heartbeatAt: Date?
    public var finishedAt: Date?
    /// The command that put the job in its current state, and why.
    public var stateCause: String
    public var stateReason: String?
    /// The last failure, kept after a retry and when the job ends failed.
    public var lastError: JobFailure?
    public var progress: JobProgress
    /// What a retry needs to continue rather than start over (opaque JSON owned by the worker).
    public var resumeState: String?
    public var result: JobResult?
    public var cleanedAt: Date?
    /// An upload's serial lane: its target's name when that target takes one upload at a time
    /// (``FollowUpUploads``), so it waits while another upload of the lane runs.
    public var lane: String?

    public init(
        id: JobID, kind: JobKind, state: JobState, idempotencyKey: String? = nil, priority: Int = 0,
        attempt: Int = 0, maxAttempts: Int, owner: WorkerID? = nil, createdAt: Date, updatedAt: Date,
        dueAt: Date, startedAt: Date? = nil, heartbeatAt: Date? = nil, finishedAt: Date? = nil,
        stateCause: String, stateReason: String? = nil, lastError: JobFailure? = nil,
        progress: JobProgress = JobProgress(), resumeState: String? = nil, result: JobResult? = nil,
        cleanedAt: Date? = nil, lane: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.state = state
        self.idempotencyKey = idempotencyKey
        self.priority = priority
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.owner = owner
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.dueAt = dueAt
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.finishedAt = finishedAt
        self.stateCause = stateCause
        self.stateReason = stateReason
        self.lastError = lastError
        self.progress = progress
        self.resumeState = resumeState
        self.result = result
        self.cleanedAt = cleanedAt
        self.lane = lane
    }

    /// The lease a worker holds while this job runs, or nil when it is not running.
    public var lease: JobLease? {
        owner.map { JobLease(jobID: id, owner: $0, attempt: attempt) }
    }
}

/// How far a transfer has got.
public struct JobProgress: Hashable, Sendable, Codable {
    public var bytesDone: Int64
    public var bytesTotal: Int64?
    /// True while the attempt waits for its turn under a target's rate limit (Telegram's flood
    /// control): it moves no bytes then, yet it is not stalled. Nil (left out on the wire) otherwise.
    public var waiting: Bool?

    public init(bytesDone: Int64 = 0, bytesTotal: Int64? = nil, waiting: Bool? = nil) {
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.waiting = waiting
    }
}

/// What a successful job produced: where the bytes are now, how many, and their SHA-256.
public struct JobResult: Hashable, Sendable, Codable {
    /// A local path (download), a target URI (upload) or a permanent-store location (video).
    public var location: String
    public var size: Int64
    /// Lower-case hexadecimal SHA-256 of the content.
    public var sha256: String
    /// The media type, when known (videos record it).
    public var contentType: String?

    public init(location: String, size: Int64, sha256: String, contentType: String? = nil) {
        self.location = location
        self.size = size
        self.sha256 = sha256
        self.contentType = contentType
    }
}

/// One transition in a job's history, as the event log keeps it.
public struct JobEvent: Hashable, Sendable {
    public var id: Int64
    public var jobID: JobID
    public var at: Date
    /// nil for the creation event.
    public var from: JobState?
    public var to: JobState
    /// The command (or `create`).
    public var cause: String
    public var reason: String?
    public var owner: WorkerID?
    public var attempt: Int

    public init(
        id: Int64, jobID: JobID, at: Date, from: JobState?, to: JobState, cause: String, reason: String?,
        owner: WorkerID?, attempt: Int
    ) {
        self.id = id
        self.jobID = jobID
        self.at = at
        self.from = from
        self.to = to
        self.cause = cause
        self.reason = reason
        self.owner = owner
        self.attempt = attempt
    }
}
