public import FerryCore
public import Foundation

/// How to open the SQLite store.
public struct StoreConfiguration: Sendable {
    /// SQLite's `synchronous` setting in WAL mode: how hard each commit waits for the disk.
    public enum Synchronous: String, CaseIterable, Sendable {
        /// Durable against process crashes; a power loss may roll back the last commits.
        case normal
        /// Every commit is on disk before it returns (the default).
        case full
        /// As `full`, and the directory is synced too.
        case extra
    }

    /// The database file.
    public var path: String
    public var synchronous: Synchronous
    /// How long a write waits for another process's lock before failing with `database_busy`.
    public var busyTimeout: Duration
    public var retryPolicies: RetryPolicies
    /// Open for reading only (CLI readers, scans): never migrates, never writes.
    public var readOnly: Bool
    /// The clock; tests move it.
    public var now: @Sendable () -> Date
    /// Whether steps of `now` against the monotonic clock move waiting jobs' due times
    /// (``WallClockSteps``): on for the supervisor's store; off where tests move `now` by hand
    /// to make time pass.
    public var followsWallClockSteps: Bool
    /// Upload targets that take one upload at a time (``FollowUpUploads/serialTargets``).
    public var serialTargets: Set<String> = []

    /// How a succeeded download's uploads are created.
    var followUps: FollowUpUploads { FollowUpUploads(policy: retryPolicies.upload, serialTargets: serialTargets) }

    public init(
        path: String,
        synchronous: Synchronous = .full,
        busyTimeout: Duration = .seconds(5),
        retryPolicies: RetryPolicies = .standard,
        readOnly: Bool = false,
        now: @escaping @Sendable () -> Date = { Date() },
        followsWallClockSteps: Bool = false
    ) {
        self.path = path
        self.synchronous = synchronous
        self.busyTimeout = busyTimeout
        self.retryPolicies = retryPolicies
        self.readOnly = readOnly
        self.now = now
        self.followsWallClockSteps = followsWallClockSteps
    }
}
