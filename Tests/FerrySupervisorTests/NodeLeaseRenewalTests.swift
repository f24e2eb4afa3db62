import FerryCore
import FerryPostgres
import FerrySupervisor
import FerryTesting
import Foundation
import Logging
import Testing

/// The supervisor's side of a node's lease, against a real PostgreSQL: renewals, the take-over of
/// dead nodes, and the node fencing itself once the database refuses its lease.
@Suite("A node keeps its lease, takes over dead nodes and fences itself")
struct NodeLeaseRenewalTests {
    /// Calls the lease's callbacks hand to the test.
    struct Events {
        let fenced: AsyncStream<String>
        let takenOver: AsyncStream<[RequeuedJob]>
        let fence: AsyncStream<String>.Continuation
        let takeOver: AsyncStream<[RequeuedJob]>.Continuation

        init() {
            (fenced, fence) = AsyncStream.makeStream()
            (takenOver, takeOver) = AsyncStream.makeStream()
        }
    }

    static func open(
        _ url: String, node: String, lease: Duration, maximumConnections: Int = 8, callTimeout: Duration = .seconds(120)
    ) async throws -> PostgresJobStore {
        var configuration = try PostgresStoreConfiguration(url: url, maximumConnections: maximumConnections)
        // Deadlines for a machine busy with the whole suite.
        configuration.connectTimeout = .seconds(120)
        configuration.callTimeout = callTimeout
        configuration.node = NodeIdentity(name: node, incarnation: "1", lease: lease)
        return try await PostgresJobStore.open(configuration)
    }

    /// A node of `lease` on a fresh migrated database, renewing: close its store and cancel
    /// `running` when done. Its callbacks do nothing.
    static func renewingNode(
        _ name: String, lease: Duration
    ) async throws -> (
        database: String, store: PostgresJobStore, lease: NodeLease, running: Task<Void, any Error>
    ) {
        let (url, database) = try await migratedDatabase()
        // The call deadline (120 s) is out of the way: only the lease's own timing gives up a renewal.
        let store = try await open(url, node: name, lease: lease)
        let nodeLease = try NodeLease(
            queue: store, logger: Logger(label: "test"), onTakeOver: { _ in }, onFenced: { _ in })
        let running = Task { try await nodeLease.run() }
        return (database, store, nodeLease, running)
    }

    /// Waits until the node renewed its lease more than `span` after `start`; returns why it
    /// fenced itself instead, if it did.
    static func fenceBeforeRenewal(
        of nodeLease: NodeLease, renewedMoreThan span: Duration, after start: ContinuousClock.Instant
    ) async throws -> String? {
        while true {
            switch await nodeLease.state {
            case .fenced(let reason): return reason
            case .live(let renewedAt) where renewedAt - start > span: return nil
            default: try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    static func migratedDatabase() async throws -> (url: String, name: String) {
        let url = try await PostgresTestServer.shared().makeDatabase()
        var plain = try PostgresStoreConfiguration(url: url)
        plain.connectTimeout = .seconds(120)
        plain.callTimeout = .seconds(120)
        let store = try await PostgresJobStore.open(plain)
        try await store.migrate()
        store.close()
        return (url, String(url.split(separator: "/").last!.split(separator: "?")[0]))
    }

    /// Ends a node's lease on the database, as its clock does when the node stops renewing.
    static func expire(_ node: String, in database: String) async throws {
        let result = try await PostgresTestServer.shared().psql(
            database, "UPDATE nodes SET lease_expires_at = clock_timestamp() - interval '1 ms' WHERE id = '\(node)'")
        #expect(result.status == 0, "\(result.output)")
    }

    @Test(
        "A live node renews, takes over a dead node's jobs, and fences itself once its own lease is refused",
        .timeLimit(.minutes(3)))
    func renewTakeOverAndFence() async throws {
        let (url, database) = try await Self.migratedDatabase()
        // A node that died holding two jobs.
        let dead = try await Self.open(url, node: "dead", lease: .seconds(3600))
        defer { dead.close() }
        try await dead.registerNode()
        let worker = WorkerID("dead.download-1")
        try await dead.registerWorker(WorkerRecord(id: worker, role: .download, slot: 1, pid: 42, startedAt: Date()))
        _ = try await dead.enqueue(downloads: [
            DownloadRequest(spec: DownloadSpec(url: "https://e.test/1")),
            DownloadRequest(spec: DownloadSpec(url: "https://e.test/2")),
        ])
        let held = try await dead.claimDueJobs(of: .download, for: worker, limit: 2)
        try await Self.expire("dead.1", in: database)

        // A lease long enough that a machine busy with the whole suite renews it in time (renewals
        // every 5 s); the test's waits end on events, not on the clock.
        let store = try await Self.open(url, node: "live", lease: .seconds(15))
        defer { store.close() }
        let events = Events()
        let lease = try NodeLease(
            queue: store, logger: Logger(label: "test"),
            onTakeOver: { events.takeOver.yield($0) }, onFenced: { events.fence.yield($0) })
        let running = Task { try await lease.run() }
        defer { running.cancel() }

        var takenOver = events.takenOver.makeAsyncIterator()
        let jobs = try #require(await takenOver.next())
        #expect(Set(jobs.map(\.job.id)) == Set(held.map(\.job.id)))
        #expect(await lease.takenOver == 2)
        let nodes = try await store.cluster()
        #expect(nodes.first { $0.id == "live.1" }?.isLive == true)
        #expect(nodes.first { $0.id == "dead.1" }?.stopReason == "lease expired")

        try await Self.expire("live.1", in: database)
        var fenced = events.fenced.makeAsyncIterator()
        let why = try #require(await fenced.next())
        #expect(why.contains("lease"))
        guard case .fenced = await lease.state else {
            Issue.record("the lease is not fenced: \(await lease.state)")
            return
        }
        try await running.value
    }
}
