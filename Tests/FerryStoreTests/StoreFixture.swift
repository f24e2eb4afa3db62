import FerryCore
import Foundation
import GRDB
import Synchronization
import Testing

@testable import FerryStore

/// A clock the tests move by hand, so backoff and due times are exact.
final class TestClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))

    var now: Date { current.withLock { $0 } }

    func advance(by seconds: Double) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// A migrated store in its own temporary folder, with a hand-moved clock and raw SQL access for
/// checking what the schema itself refuses.
final class StoreFixture: StoreHelpers {
    let folder: URL
    let clock: TestClock
    let store: SQLiteJobStore

    init(
        policies: RetryPolicies = .standard, migrate: Bool = true, clock: TestClock = TestClock(),
        followsWallClockSteps: Bool = false, serialTargets: Set<String> = []
    ) throws {
        self.clock = clock
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let clock = clock
        var configuration = StoreConfiguration(
            path: Self.path(in: folder), retryPolicies: policies, now: { clock.now },
            followsWallClockSteps: followsWallClockSteps)
        configuration.serialTargets = serialTargets
        store = try SQLiteJobStore.open(configuration)
        if migrate { try store.migrate() }
    }

    static func path(in folder: URL) -> String { folder.appendingPathComponent("ferry.sqlite").path }
    var path: String { Self.path(in: folder) }

    deinit { try? FileManager.default.removeItem(at: folder) }

    var jobStore: any JobStore { store }

    /// Runs raw SQL in a write transaction, as a script or a person with the sqlite3 shell would.
    func execute(_ sql: String, _ arguments: StatementArguments = []) async throws {
        try await store.pool.write { db in try db.execute(sql: sql, arguments: arguments) }
    }

    /// Expects the database to refuse `sql` with a constraint error whose message contains `text`.
    func expectRefused(
        _ sql: String, _ arguments: StatementArguments = [], mentioning text: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            try await execute(sql, arguments)
            Issue.record("the database accepted: \(sql)", sourceLocation: sourceLocation)
        } catch let error as DatabaseError {
            #expect(error.resultCode.primaryResultCode == .SQLITE_CONSTRAINT, sourceLocation: sourceLocation)
            #expect(
                error.message?.contains(text) == true, "\(error.message ?? "") lacks \"\(text)\"",
                sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    static let sha = String(repeating: "ab", count: 32)

    static func result(for id: JobID) -> JobResult {
        JobResult(location: "/var/lib/ferry/downloads/\(id)/a.mp4", size: 1024, sha256: sha)
    }
}

/// What both fixtures offer: workers and jobs in a given state, through the public interface.
protocol StoreHelpers {
    var jobStore: any JobStore { get }
    var clock: TestClock { get }
}

extension StoreHelpers {
    /// A live worker of `role`, registered now.
    @discardableResult
    func worker(_ name: String, role: WorkerRole = .download) async throws -> WorkerID {
        let id = WorkerID(name)
        try await jobStore.registerWorker(WorkerRecord(id: id, role: role, slot: 1, pid: 4242, startedAt: clock.now))
        return id
    }

    /// A download, created and claimed by `owner` (at a priority that puts it ahead of any other
    /// queued job, so the claim takes this one).
    func runningDownload(
        _ spec: DownloadSpec = DownloadSpec(url: "https://example.test/a.mp4"), owner: WorkerID
    ) async throws -> ClaimedJob {
        let id = try await jobStore.enqueue(download: DownloadRequest(spec: spec, priority: 1_000_000)).job.id
        let claimed = try await jobStore.claimDueJobs(of: .download, for: owner, limit: 1)
        let job = try #require(claimed.first)
        #expect(job.job.id == id)
        return job
    }

    /// A download that has succeeded, with upload jobs for `targets`.
    func succeededDownload(targets: [String] = [], owner: WorkerID) async throws -> Job {
        let claimed = try await runningDownload(
            DownloadSpec(url: "https://example.test/\(UUID().uuidString)", uploadTargets: targets), owner: owner)
        return try await jobStore.complete(
            JobCompletion(lease: claimed.lease, result: Self.result(for: claimed.job.id)))
    }

    static var sha: String { StoreFixture.sha }

    static func result(for id: JobID) -> JobResult { StoreFixture.result(for: id) }
}

/// Expects `body` to throw a ``StoreError`` with `code`; returns it for further checks.
@discardableResult
func expectStoreError<T>(
    _ code: StoreError.Code, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> StoreError? {
    do {
        _ = try await body()
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as StoreError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a StoreError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
