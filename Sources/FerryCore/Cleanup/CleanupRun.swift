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
    /// The node that ran it (on PostgreSQL; absent on SQLite, where there is one).
    public var node: String?

    public init(
        id: Int64, trigger: Trigger, dryRun: Bool, state: State, startedAt: Date, finishedAt: Date? = nil,
        report: CleanupReport? = nil, error: String? = nil, node: String? = nil
    ) {
        self.id = id
        self.trigger = trigger
        self.dryRun = dryRun
        self.state = state
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.report = report
        self.error = error
        self.node = node
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
    /// Multipart uploads left behind by upload jobs that ended for good, aborted on their server.
    public var abandonedUploads: [AbandonedUpload] = []
    /// Finished records deleted by retention (`cleanup.retain_finished`), with their events.
    public var expiredRecords: Int = 0
    /// Files deleted together with their expired records (`cleanup.retain_files: false`).
    public var expiredFiles: [String] = []
    /// Hidden copies (`.<name>.ferry-partial`) found beside objects delivered to rclone targets and
    /// removed: an earlier, killed attempt's request that the remote carried out after the
    /// delivery. As `<target>:<path>`.
    public var hiddenCopies: [String] = []

    public init() {}

    /// Whether the run found anything out of order (retention is routine, not a problem).
    public var foundProblems: Bool {
        !sweepRequeued.isEmpty || !pendingInputMissing.isEmpty || !damagedRecords.isEmpty || !orphanFiles.isEmpty
            || !uninterpretable.isEmpty || !stalePartials.isEmpty || !abandonedUploads.isEmpty || !hiddenCopies.isEmpty
    }
}

// Reports stored by an earlier version lack the newer sections: each missing one reads as empty.
extension CleanupReport {
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        sweepRequeued = try values.decodeIfPresent([Int64].self, forKey: .sweepRequeued) ?? []
        pendingInputMissing = try values.decodeIfPresent([Int64].self, forKey: .pendingInputMissing) ?? []
        pendingDispatched = try values.decodeIfPresent(Int.self, forKey: .pendingDispatched) ?? 0
        damagedRecords = try values.decodeIfPresent([DamagedRecord].self, forKey: .damagedRecords) ?? []
        orphanFiles = try values.decodeIfPresent([OrphanFile].self, forKey: .orphanFiles) ?? []
        uninterpretable = try values.decodeIfPresent([String].self, forKey: .uninterpretable) ?? []
        stalePartials = try values.decodeIfPresent([String].self, forKey: .stalePartials) ?? []
        scannedFiles = try values.decodeIfPresent(Int.self, forKey: .scannedFiles) ?? 0
        scannedRecords = try values.decodeIfPresent(Int.self, forKey: .scannedRecords) ?? 0
        databaseMaintained = try values.decodeIfPresent(Bool.self, forKey: .databaseMaintained) ?? false
        abandonedUploads = try values.decodeIfPresent([AbandonedUpload].self, forKey: .abandonedUploads) ?? []
        expiredRecords = try values.decodeIfPresent(Int.self, forKey: .expiredRecords) ?? 0
        expiredFiles = try values.decodeIfPresent([String].self, forKey: .expiredFiles) ?? []
        hiddenCopies = try values.decodeIfPresent([String].self, forKey: .hiddenCopies) ?? []
    }
}

/// A multipart upload an upload job left on its server when it ended for good (out of attempts,
/// cancelled): parts the server keeps, and bills for, until someone aborts the upload.
public struct AbandonedUpload: Hashable, Sendable, Codable {
    public var jobID: Int64
    public var target: String
    public var uploadID: String
    /// "aborted", "already_gone" (the server no longer has it), "would_abort" in a dry run, or
    /// "failed: <why>" (tried again by the next run).
    public var action: String

    public init(jobID: Int64, target: String, uploadID: String, action: String) {
        self.jobID = jobID
        self.target = target
        self.uploadID = uploadID
        self.action = action
    }

    /// The server holds nothing more for this job: its resume state can be forgotten.
    public var settled: Bool { action == "aborted" || action == "already_gone" }
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
    /// "quarantined" (moved to `<state_dir>/quarantine/…`), "reported", "adoptable" (as the worker
    /// hands it over: the supervisor adopts it), "adopted" (now the finished download `jobID`) or
    /// "would_adopt" in a dry run; "removed" ("would_remove") for the file of a download whose
    /// records say it was delivered and removed (its supervisor died before removing it).
    public var action: String
    /// The file's SHA-256, when it is to be adopted.
    public var sha256: String?
    /// The record that adopted it.
    public var jobID: Int64?

    public init(path: String, size: Int64, action: String, sha256: String? = nil, jobID: Int64? = nil) {
        self.path = path
        self.size = size
        self.action = action
        self.sha256 = sha256
        self.jobID = jobID
    }
}
