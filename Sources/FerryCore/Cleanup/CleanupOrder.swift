public import Foundation

/// What the supervisor asks the cleanup worker to scan. The worker reads the database
/// read-only and acts only on files (stale partials, quarantine moves); every change to a record
/// is the supervisor's, applied from the findings the worker reports.
public struct CleanupOrder: Hashable, Sendable, Codable {
    public var runID: Int64
    public var dryRun: Bool
    /// The store the worker reads the records from.
    public var database: CleanupDatabase
    /// Hash every recorded file instead of checking sizes only.
    public var verifyHashes: Bool
    /// What to do with files that no record knows.
    public var orphans: OrphanPolicy
    /// A partial file of a job that is not running is removed once this old.
    public var partialMaxAge: Duration
    /// Files younger than this are left alone: a result may be between its rename and its record.
    public var settleTime: Duration

    public init(
        runID: Int64, dryRun: Bool, database: CleanupDatabase, verifyHashes: Bool, orphans: OrphanPolicy,
        partialMaxAge: Duration, settleTime: Duration
    ) {
        self.settleTime = settleTime
        self.runID = runID
        self.dryRun = dryRun
        self.database = database
        self.verifyHashes = verifyHashes
        self.orphans = orphans
        self.partialMaxAge = partialMaxAge
    }
}

/// Where the cleanup worker reads the records, read-only.
///
/// The worker opens the store itself rather than being sent the records: a store holds far more
/// records than one control-channel line should carry, and the scan asks the store again about
/// the files it finds (their jobs' states, whether they were delivered and removed).
public enum CleanupDatabase: Hashable, Sendable, Codable {
    /// The SQLite file.
    case sqlite(path: String)
    /// The PostgreSQL store, read as this node, so that the scan sees the files this node holds.
    case postgres(PostgresAccess)
}

/// How a worker reaches the PostgreSQL store: never the password itself (the order travels on a
/// pipe and could be logged), only where to read it.
public struct PostgresAccess: Hashable, Sendable, Codable {
    /// `database.url` without any password written into it.
    public var url: String
    /// `database.password_file`; nil: `$FERRY_DATABASE_PASSWORD`, which workers inherit.
    public var passwordFile: String?
    /// This node's id (name and incarnation), the session's `ferry.node`.
    public var node: String
    /// This node's lease (a transaction left open longer is ended by the server).
    public var lease: Duration

    public init(url: String, passwordFile: String?, node: String, lease: Duration) {
        self.url = Self.withoutPassword(url)
        self.passwordFile = passwordFile
        self.node = node
        self.lease = lease
    }

    /// The password, read where the configuration says (the first line of the file).
    public func password(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(StoreError) -> String? {
        do {
            return try DatabasePassword.read(file: passwordFile, environment: environment)
        } catch {
            throw StoreError(
                .unavailable,
                "cannot read database.password_file \(error.file): check that it exists and that the ferry user may read it"
            )
        }
    }

    static func withoutPassword(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = nil
        return components.string ?? url
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
