import FerryConfig
import FerryCore
import FerryStore
public import Foundation
import Logging

/// Writes a verified copy of the database every `backup.interval` into the backup folder and
/// prunes the oldest scheduled copies beyond `backup.keep`.
///
/// The copies themselves are the record: at start the newest one in the folder says when the
/// last backup was made, so a restart neither repeats a recent backup nor forgets an old one. A
/// failure is kept in memory (health warns until a backup works again) and retried after at most
/// ten minutes. Times are wall-clock: backups are due at times of day, across restarts.
public actor BackupScheduler {
    private let store: SQLiteJobStore
    private let folder: BackupFolder
    private var settings: FerryConfiguration.Backup
    private let logger: Logger
    private let telemetry: SupervisorMetrics
    private let startedAt = Date()
    public private(set) var status: BackupStatus

    init(
        store: SQLiteJobStore, folder: String, settings: FerryConfiguration.Backup, logger: Logger,
        telemetry: SupervisorMetrics
    ) {
        self.store = store
        self.folder = BackupFolder(path: folder)
        self.settings = settings
        self.logger = logger
        self.telemetry = telemetry
        var status = BackupStatus(interval: settings.interval, folder: folder)
        if let newest = self.folder.scheduledCopies().last,
            let attributes = try? FileManager.default.attributesOfItem(atPath: newest),
            let modified = attributes[.modificationDate] as? Date
        {
            status.lastSuccess = .init(
                at: modified, path: newest, size: (attributes[.size] as? NSNumber)?.int64Value ?? 0)
        }
        self.status = status
        if let last = status.lastSuccess { telemetry.backupSucceeded(at: last.at, size: last.size, counted: false) }
    }

    func update(_ settings: FerryConfiguration.Backup) {
        self.settings = settings
        status.interval = settings.interval
    }

    /// Makes backups when they are due until cancelled. Sleeps until the next one is due (at most
    /// a minute, so a reload that changes the interval is noticed).
    func run() async {
        while !Task.isCancelled {
            let wait = nextDue().timeIntervalSinceNow
            if wait > 0 {
                try? await Task.sleep(for: .seconds(min(wait, 60)))
                continue
            }
            _ = await backUp()
        }
    }

    /// When the next scheduled backup is due: an interval after the last success, or soon after
    /// start when there is none; at most ten minutes after a failure.
    func nextDue() -> Date {
        guard settings.interval > .zero else { return .distantFuture }
        let interval = settings.interval.inSeconds
        var due =
            status.lastSuccess.map { $0.at.addingTimeInterval(interval) }
            ?? startedAt.addingTimeInterval(min(interval, 300))
        if let failure = status.lastFailure, status.lastSuccess.map({ failure.at > $0.at }) ?? true {
            due = min(due, failure.at.addingTimeInterval(min(interval, 600)))
            due = max(due, failure.at.addingTimeInterval(min(interval, 60)))
        }
        return due
    }

    /// Writes one scheduled copy now and prunes; records the outcome.
    func backUp() async -> Result<DatabaseCopy, StoreError> {
        let now = Date()
        do {
            let copy = try await store.backup(to: folder.newCopyPath(at: now, manual: false))
            status.lastSuccess = .init(at: now, path: copy.path, size: copy.size)
            telemetry.backupSucceeded(at: now, size: copy.size, counted: true)
            let removed = folder.prune(keeping: settings.keep)
            logger.notice(
                "backed up the database",
                metadata: [
                    "path": "\(copy.path)", "bytes": "\(copy.size)", "jobs": "\(copy.jobs)",
                    "schema": "\(copy.schemaVersion)", "pruned": "\(removed.count)",
                ])
            return .success(copy)
        } catch {
            status.lastFailure = .init(at: now, message: error.message)
            telemetry.backupFailed()
            logger.error(
                "the scheduled database backup failed", metadata: ["folder": "\(folder.path)", "error": "\(error)"])
            return .failure(error)
        }
    }
}

/// What health, the page and `/metrics` show about backups.
public struct BackupStatus: Sendable {
    public struct Success: Sendable {
        public var at: Date
        public var path: String
        public var size: Int64
    }

    public struct Failure: Sendable {
        public var at: Date
        public var message: String
    }

    /// Zero: scheduled backups are off.
    public var interval: Duration
    public var folder: String
    public var lastSuccess: Success?
    public var lastFailure: Failure?

    /// Whether the last attempt failed (no success since the failure).
    public var lastAttemptFailed: Bool {
        guard let failure = lastFailure else { return false }
        return lastSuccess.map { failure.at > $0.at } ?? true
    }
}
