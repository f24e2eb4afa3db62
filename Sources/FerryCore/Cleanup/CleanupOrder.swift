/// What the supervisor asks the cleanup worker to scan. The worker reads the database
/// read-only and acts only on files (stale partials, quarantine moves); every change to a record
/// is the supervisor's, applied from the findings the worker reports.
public struct CleanupOrder: Hashable, Sendable, Codable {
    public var runID: Int64
    public var dryRun: Bool
    /// The database file, opened read-only.
    public var databasePath: String
    /// Hash every recorded file instead of checking sizes only.
    public var verifyHashes: Bool
    /// What to do with files that no record knows.
    public var orphans: OrphanPolicy
    /// A partial file of a job that is not running is removed once this old.
    public var partialMaxAge: Duration
    /// Files younger than this are left alone: a result may be between its rename and its record.
    public var settleTime: Duration

    public init(
        runID: Int64, dryRun: Bool, databasePath: String, verifyHashes: Bool, orphans: OrphanPolicy,
        partialMaxAge: Duration, settleTime: Duration
    ) {
        self.settleTime = settleTime
        self.runID = runID
        self.dryRun = dryRun
        self.databasePath = databasePath
        self.verifyHashes = verifyHashes
        self.orphans = orphans
        self.partialMaxAge = partialMaxAge
    }
}

/// `cleanup.orphans`: what becomes of a file in a managed folder that no record knows.
public enum OrphanPolicy: String, Hashable, Sendable, Codable {
    /// Moved to `<state_dir>/quarantine/…`, out of the way but kept.
    case quarantine
    /// Left where it is and listed in the run's report.
    case report
    /// A download's file becomes a finished download record (hashed, moved into its job folder);
    /// a video, which needs an owner, is quarantined.
    case adopt
}

/// The cleanup worker's answer: what it found in the files (and did to them), or why it could not.
public struct CleanupFindings: Hashable, Sendable, Codable {
    public var runID: Int64
    public var report: CleanupReport
    public var error: String?

    public init(runID: Int64, report: CleanupReport, error: String? = nil) {
        self.runID = runID
        self.report = report
        self.error = error
    }
}
