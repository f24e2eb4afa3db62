public import Foundation

/// A finished file the records know about, for reconciliation.
public struct FileRecord: Hashable, Sendable {
    public var jobID: JobID
    public var kind: JobKind
    public var path: String
    public var size: Int64
    public var sha256: String
    /// Whether the file is on this node (always, on one node). A file another node holds is that
    /// node's to check: this node neither reports it missing nor treats its path as an orphan.
    public var isHere: Bool

    public init(jobID: JobID, kind: JobKind, path: String, size: Int64, sha256: String, isHere: Bool = true) {
        self.jobID = jobID
        self.kind = kind
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.isHere = isHere
    }
}

/// What retention deleted (or, in a dry run, would delete).
public struct ExpiredRecords: Hashable, Sendable {
    public var records: Int = 0
    /// The files of deleted records that are to go with them (the caller removes them after the
    /// records are gone: a file without a record is recoverable, the reverse is not).
    public var files: [String] = []

    public init(records: Int = 0, files: [String] = []) {
        self.records = records
        self.files = files
    }
}

/// What the cleanup worker's scan reads, read-only: the records whose files it compares with the
/// folders. Both stores offer it; on PostgreSQL a node's scan sees the files of that node.
public protocol CleanupRecords: Sendable {
    /// Every finished download and stored video with a file, except downloads whose file left on
    /// purpose (delivered to every target and removed, their uploads cleaned).
    func fileRecords() async throws(StoreError) -> [FileRecord]
    /// Of the given downloads, those whose file left on purpose: delivered to every target and
    /// removed, their uploads marked cleaned.
    func deliveredAndRemoved(_ ids: [JobID]) async throws(StoreError) -> Set<JobID>
    /// The states of the given jobs (absent ids are not in the result).
    func states(of ids: [JobID]) async throws(StoreError) -> [JobID: JobState]
    /// Upload jobs that ended for good while their resume state still names an unfinished
    /// multipart upload on the server, with their target.
    func abandonedUploads() async throws(StoreError) -> [(job: JobID, target: String, resumeState: String)]
    /// Uploads to one of `targets` that were delivered (succeeded or cleaned) at or after `since`
    /// (Unix milliseconds), with their target and where they went (on PostgreSQL those of this
    /// node's files).
    func deliveries(
        to targets: [String], since: Int64
    ) async throws(StoreError) -> [(job: JobID, target: String, location: String)]
}

/// What the supervisor's cleanup (``CleanupRecords`` plus the writes a run makes) needs of a
/// store: the run records, the repairs from a scan's findings, adoption, retention and upkeep.
/// `SQLiteJobStore` and `PostgresJobStore` both conform; on PostgreSQL each node's cleanup covers
/// the records whose file that node holds.
public protocol CleanupStore: JobStore, CleanupRecords {
    /// Starts a run, or returns the one already running (`started` false). On PostgreSQL one run
    /// per node.
    func beginCleanupRun(
        trigger: CleanupRun.Trigger, dryRun: Bool
    ) async throws(StoreError)
        -> (run: CleanupRun, started: Bool)
    /// Records what a run found and did.
    func finishCleanupRun(_ id: Int64, report: CleanupReport) async throws(StoreError) -> CleanupRun
    /// Records why a run could not finish.
    func failCleanupRun(_ id: Int64, error: String) async throws(StoreError) -> CleanupRun
    /// Runs left `running` by a supervisor that died: they will never finish.
    func abandonCleanupRuns(reason: String) async throws(StoreError)
    /// The latest run (on PostgreSQL: of this node's name), if any.
    func lastCleanupRun() async throws(StoreError) -> CleanupRun?
    func cleanupRun(_ id: Int64) async throws(StoreError) -> CleanupRun?

    /// Queued uploads waiting longer than `minimumAge`, with the file they would upload (on
    /// PostgreSQL only those whose file is on this node: only here can its absence be seen).
    func queuedUploadSources(
        olderThan minimumAge: Duration, limit: Int
    ) async throws(StoreError)
        -> [(upload: JobID, source: String?)]
    /// Fails a queued job whose input has vanished.
    func failQueued(_ id: JobID, with failure: JobFailure) async throws(StoreError) -> Job
    /// Sends a finished download or stored video whose file is missing or damaged back to be
    /// fetched again from its source, with a fresh set of attempts.
    func refetch(_ id: JobID, reason: String) async throws(StoreError) -> Job
    /// Creates a succeeded download for a file with no record, moving the file into the new
    /// job's own folder inside the transaction (and back if it does not commit).
    func adopt(
        file path: String, size: Int64, sha256: String, downloadsFolder: String
    ) async throws(StoreError)
        -> (job: JobID, location: String)
    /// Deletes finished records that ended before `cutoff` (see the stores for what qualifies).
    func expireFinished(
        before cutoff: Date, keepRecordsWithFiles: Bool, dryRun: Bool, batchSize: Int
    )
        async throws(StoreError) -> ExpiredRecords
    /// Forgets a finished upload's resume state once its multipart upload is gone from the server.
    func forgetAbandonedUpload(_ id: JobID, uploadID: String) async throws(StoreError)
    /// The database's own upkeep after a run.
    func maintain() async throws(StoreError)
}

extension CleanupStore {
    public func expireFinished(
        before cutoff: Date, keepRecordsWithFiles: Bool, dryRun: Bool
    ) async throws(StoreError) -> ExpiredRecords {
        try await expireFinished(
            before: cutoff, keepRecordsWithFiles: keepRecordsWithFiles, dryRun: dryRun, batchSize: 500)
    }
}
