public import Foundation

/// One run of the cleanup worker, as the `cleanup_runs` table keeps it.
public struct CleanupRun: Hashable, Sendable, Codable {
    public enum Trigger: String, Hashable, Sendable, Codable {
        case schedule, request, startup
    }

    public enum State: String, Hashable, Sendable, Codable {
        case running, succeeded, failed
    }

    public var id: Int64
    public var trigger: Trigger
    /// A dry run reports what it would do and changes nothing.
    public var dryRun: Bool
    public var state: State
    public var startedAt: Date
    public var finishedAt: Date?
    /// What it found and did (set when it succeeded).
    public var report: CleanupReport?
    public var error: String?

    public init(
        id: Int64, trigger: Trigger, dryRun: Bool, state: State, startedAt: Date, finishedAt: Date? = nil,
        report: CleanupReport? = nil, error: String? = nil
    ) {
        self.id = id
        self.trigger = trigger
        self.dryRun = dryRun
        self.state = state
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.report = report
        self.error = error
    }
}

/// What a cleanup run found and did, section by section. In a dry run every "done" count is
/// what would have been done.
public struct CleanupReport: Hashable, Sendable, Codable {
    /// Running jobs without a live owner, put back (or failed when out of attempts).
    public var sweepRequeued: [Int64] = []
    /// Queued uploads whose downloaded file has vanished, failed with that reason.
    public var pendingInputMissing: [Int64] = []
    /// Due work that was still waiting when the run looked (then dispatched).
    public var pendingDispatched: Int = 0
    /// Records whose file is missing or differs from the record.
    public var damagedRecords: [DamagedRecord] = []
    /// Files in managed folders with no record.
    public var orphanFiles: [OrphanFile] = []
    /// Files the scan could not interpret (names no Ferry version writes), left alone.
    public var uninterpretable: [String] = []
    /// Partial files in the spool of jobs that are no longer running and cannot be resumed.
    public var stalePartials: [String] = []
    /// Files and records looked at.
    public var scannedFiles: Int = 0
    public var scannedRecords: Int = 0
    /// The database's WAL checkpoint and optimize ran.
    public var databaseMaintained: Bool = false

    public init() {}

    /// Whether the run found anything out of order.
    public var foundProblems: Bool {
        !sweepRequeued.isEmpty || !pendingInputMissing.isEmpty || !damagedRecords.isEmpty || !orphanFiles.isEmpty
            || !uninterpretable.isEmpty || !stalePartials.isEmpty
    }
}

/// A record whose file does not match it.
public struct DamagedRecord: Hashable, Sendable, Codable {
    public enum Problem: String, Hashable, Sendable, Codable {
        case missing, wrongSize = "wrong_size", wrongHash = "wrong_hash"
    }

    public var jobID: Int64
    public var kind: JobKind
    public var path: String
    public var problem: Problem
    /// What was done: "refetch" (queued to be fetched again from its source) or "reported".
    public var action: String

    public init(jobID: Int64, kind: JobKind, path: String, problem: Problem, action: String) {
        self.jobID = jobID
        self.kind = kind
        self.path = path
        self.problem = problem
        self.action = action
    }
}

/// A file with no record.
public struct OrphanFile: Hashable, Sendable, Codable {
    public var path: String
    public var size: Int64
    /// "quarantined" (moved to `<state_dir>/quarantine/…`) or "reported".
    public var action: String

    public init(path: String, size: Int64, action: String) {
        self.path = path
        self.size = size
        self.action = action
    }
}
