public import FerryConfig
public import FerryCore
import FerryPostgres
public import FerryStore
import Foundation
public import Logging

/// Brings the store up for `ferry serve`: creates the state folder, opens and migrates the
/// database, and repairs what the previous run left behind, before anything else may happen.
public enum StoreBootstrap {
    /// What start-up found and did.
    public struct Report: Sendable {
        public var appliedMigrations: [String]
        /// Jobs that were running when the previous supervisor died, now back in the queue (or failed
        /// when that was their last attempt).
        public var recovered: [RequeuedJob]
        /// Held for as long as the supervisor runs: one supervisor per SQLite database, or on
        /// PostgreSQL per state folder (``NodeHome``).
        public var lock: DatabaseLock?
        /// On PostgreSQL: this node, and when its first lease was taken (on the monotonic clock).
        public var node: (identity: NodeIdentity, joinedAt: ContinuousClock.Instant)?
    }

    /// Opens the store described by `loaded` and recovers it.
    public static func openAndRecover(
        _ loaded: LoadedConfiguration, logger: Logger
    ) async throws(StoreError) -> (ServeStore, Report) {
        if !loaded.configuration.database.url.isEmpty { return try await openNode(loaded, logger: logger) }
        let store = try open(loaded, readOnly: false)
        // One supervisor per database: a second one would requeue the first one's running jobs.
        let lock = try DatabaseLock.acquire(
            for: loaded.databasePath,
            purpose: "stop that one first (systemctl stop ferry), or give this one another state_dir or database.path")
        let applied = try store.migrate()
        if !applied.isEmpty {
            logger.notice("migrated the database", metadata: ["migrations": "\(applied.joined(separator: ", "))"])
        }
        let served = ServeStore(sqlite: store, path: loaded.databasePath)
        let recovered = try await recover(served, loaded, logger: logger)
        return (served, Report(appliedMigrations: applied, recovered: recovered, lock: lock))
    }

    /// A new supervisor has no workers yet, so nothing of its own can legitimately be running: puts
    /// back what the previous run left (on PostgreSQL, only this node's earlier incarnations'), and
    /// finishes the clean-up after deliveries it had not done.
    static func recover(
        _ served: ServeStore, _ loaded: LoadedConfiguration, logger: Logger
    ) async throws(StoreError) -> [RequeuedJob] {
        let store = served.jobs
        let recovered = try await store.recoverAfterRestart(
            reason: "the previous supervisor stopped while the job was running")
        for item in recovered {
            logger.warning(
                "recovered a job left running by the previous run",
                metadata: [
                    "job_id": "\(item.job.id)", "previous_owner": "\(item.previousOwner)", "state": "\(item.job.state)",
                ])
        }
        // Uploads queued before lanes existed, or before their target's kind changed.
        let laned = try await store.assignLanes()
        if laned > 0 {
            logger.notice(
                "put waiting uploads in the lanes their targets have now (a telegram target takes one upload at a time)",
                metadata: ["uploads": "\(laned)"])
        }
        // A supervisor that died between recording a download's last upload and cleaning up
        // after its deliveries left the uploads succeeded and the file on disk: finish that now.
        let recorder = OutcomeRecorder(
            store: store, logger: logger, downloadsFolder: loaded.stateDirectory + "/downloads")
        for download in try await store.deliveriesAwaitingCleanUp() {
            logger.notice("finishing the clean-up after a download's deliveries", metadata: ["job_id": "\(download)"])
            _ = await recorder.cleanUpAfterDeliveries(of: download)
        }
        return recovered
    }

    /// Opens (and creates the folder of) the database named by `loaded`, without migrating.
    public static func open(_ loaded: LoadedConfiguration, readOnly: Bool) throws(StoreError) -> SQLiteJobStore {
        let path = loaded.databasePath
        if !readOnly { try createFolder((path as NSString).deletingLastPathComponent) }
        let configuration = loaded.configuration
        let synchronous = StoreConfiguration.Synchronous(rawValue: configuration.database.synchronous) ?? .full
        var settings = StoreConfiguration(
            path: path, synchronous: synchronous, busyTimeout: configuration.database.busyTimeout,
            retryPolicies: configuration.retry.policies, readOnly: readOnly, followsWallClockSteps: !readOnly)
        settings.serialTargets = configuration.serialTargets
        return try SQLiteJobStore.open(settings)
    }

    /// Creates the state folder (or the database's) if missing, with a message that says what to do.
    static func createFolder(_ folder: String) throws(StoreError) {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StoreError(
                .unavailable,
                "cannot create the state folder \(folder): \((error as NSError).localizedDescription); set state_dir to a writable folder",
                underlying: "\(error)")
        }
    }
}
