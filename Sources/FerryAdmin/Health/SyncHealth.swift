import FerryCore
import Foundation

/// The queue's state: what `/api/health/sync` answers. The central invariant — a job is running
/// only while a live worker holds it — is checked here from the outside too.
struct SyncHealth: Encodable {
    struct QueueEntry: Encodable {
        var kind: String
        var state: String
        var count: Int
    }

    struct KindAge: Encodable {
        var kind: String
        var oldestWaitingSeconds: Double?
    }

    var status: HealthStatus = .pass
    var notes: [String] = []
    var queue: [QueueEntry]
    var oldestWaiting: [KindAge]
    /// Running jobs whose owner is not a live worker of this supervisor; must be 0.
    var runningWithoutLiveOwner: Int
    /// Kinds whose oldest due job has waited longer than the stuck threshold.
    var stuckKinds: [String]
    /// The latest cleanup run: when, what it found and did (nil before the first).
    var lastCleanup: CleanupRun?
    /// Only in the detailed answer: running jobs without a live owner.
    var offendingJobs: [JobResource]?
    /// Only in the detailed answer: the oldest due jobs of the stuck kinds (up to 20 per kind).
    var stuckJobs: [JobResource]?

    init(
        counts: [QueueCount], orphans: [Job], stuckAfter: Duration, now: Date, detailed: Bool,
        stuckJobs: (_ kinds: [JobKind]) async throws -> [Job] = { _ in [] }
    ) async throws {
        queue = counts.map { QueueEntry(kind: $0.kind.rawValue, state: $0.state.rawValue, count: $0.count) }
            .sorted { ($0.kind, $0.state) < ($1.kind, $1.state) }
        var ages: [KindAge] = []
        var stuck: [String] = []
        for kind in JobKind.allCases {
            let oldest = counts.filter { $0.kind == kind }.compactMap(\.oldestCreatedAt).min()
            let age = oldest.map { max(0, now.timeIntervalSince($0)).rounded() }
            ages.append(KindAge(kind: kind.rawValue, oldestWaitingSeconds: age))
            if let age, age > stuckAfter.inSeconds { stuck.append(kind.rawValue) }
        }
        oldestWaiting = ages
        stuckKinds = stuck
        runningWithoutLiveOwner = orphans.count
        if !orphans.isEmpty {
            status = .fail
            notes.append("\(orphans.count) jobs are running without a live worker; the sweep will requeue them")
        }
        if !stuck.isEmpty {
            status = max(status, .warn)
            notes.append(
                "the oldest due \(stuck.joined(separator: ", ")) work has waited over \(Int(stuckAfter.inSeconds)) s")
        }
        offendingJobs = detailed ? orphans.map { JobResource($0) } : nil
        if detailed {
            self.stuckJobs = try await stuckJobs(stuck.compactMap(JobKind.init(rawValue:))).map { JobResource($0) }
        }
    }
}
