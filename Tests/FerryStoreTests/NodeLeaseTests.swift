import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Synchronization
import Testing

/// Several nodes on one PostgreSQL queue: leases on the database's clock, take-over of a dead
/// node's work by any live node, and the fence that refuses whatever a node does once its lease
/// ran out. A lease runs out here by moving its end into the past on the database (what the
/// database's clock does to a node that stops renewing), never by waiting: the tests must not
/// depend on how fast a loaded machine runs them.
@Suite("Nodes, leases and fencing on PostgreSQL")
struct NodeLeaseTests {
    /// A migrated database and a way to open node stores on it; ``close()`` closes every one.
    final class Cluster: Sendable {
        let url: String
        private let opened = Mutex<[PostgresJobStore]>([])

        init() async throws {
            url = try await PostgresTestServer.shared().makeDatabase()
            let store = try await PostgresJobStore.open(.patient(url))
            try await store.migrate()
            store.close()
        }

        /// What the database's clock does to a node that stops renewing: its lease runs out.
        func expireLease(of store: PostgresJobStore) async throws {
            let id = try #require(store.configuration.node).id
            let database = String(url.split(separator: "/").last!.split(separator: "?")[0])
            let result = try await PostgresTestServer.shared().psql(
                database, "UPDATE nodes SET lease_expires_at = clock_timestamp() - interval '1 ms' WHERE id = '\(id)'")
            #expect(result.status == 0, "\(result.output)")
        }

        func node(
            _ name: String, incarnation: String = "1", lease: Duration = .seconds(3600), home: String? = nil,
            serialTargets: Set<String> = []
        ) async throws
            -> PostgresJobStore
        {
            var configuration = try PostgresStoreConfiguration.patient(url)
            configuration.node = NodeIdentity(name: name, incarnation: incarnation, lease: lease, home: home)
            configuration.serialTargets = serialTargets
            let store = try await PostgresJobStore.open(configuration)
            opened.withLock { $0.append(store) }
            try await store.registerNode()
            return store
        }

        func close() {
            for store in opened.withLock({ $0 }) { store.close() }
        }
    }

    static func worker(_ id: String, on store: PostgresJobStore) async throws -> WorkerID {
        let worker = WorkerID(id)
        try await store.registerWorker(WorkerRecord(id: worker, role: .download, slot: 1, pid: 4242, startedAt: Date()))
        return worker
    }

    static func enqueue(_ count: Int, on store: PostgresJobStore) async throws -> [JobID] {
        try await store.enqueue(
            downloads: (0..<count).map { index in
                DownloadRequest(spec: DownloadSpec(url: "https://e.test/\(index)-\(UUID().uuidString)"))
            }
        ).map(\.job.id)
    }

    static func result(_ id: JobID) -> JobResult {
        JobResult(location: "/srv/\(id)", size: 1, sha256: String(repeating: "ab", count: 32))
    }

    @Test("A node that stops renewing loses its jobs to a live node; its late reports are refused and change nothing")
    func deadNodeIsTakenOver() async throws {
        let cluster = try await Cluster()
        let a = try await cluster.node("a")
        let b = try await cluster.node("b")
        defer { cluster.close() }
        let ids = try await Self.enqueue(2, on: b)
        let held = try await a.claimDueJobs(of: .download, for: try await Self.worker("a.download-1", on: a), limit: 2)
        #expect(held.count == 2)
        #expect(try await b.takeOverDeadNodes().isEmpty, "a live node's work was taken")

        try await cluster.expireLease(of: a)
        // Past its lease, but not yet taken over: the database refuses the late completion anyway.
        await expectFenced {
            try await a.complete(JobCompletion(lease: held[0].lease, result: Self.result(held[0].job.id)))
        }
        await expectFenced {
            try await a.recordProgress([ProgressReport(lease: held[1].lease, progress: JobProgress(bytesDone: 1))])
        }
        #expect(try await b.job(held[0].job.id).state == .running)

        let taken = try await b.takeOverDeadNodes()
        #expect(Set(taken.map(\.job.id)) == Set(ids))
        #expect(taken.allSatisfy { $0.job.state == .queued && $0.previousOwner == WorkerID("a.download-1") })
        await expectFenced { try await a.renewLease() }
        await expectFenced { try await a.claimDueJobs(of: .download, for: WorkerID("a.download-1"), limit: 2) }

        let again = try await b.claimDueJobs(of: .download, for: try await Self.worker("b.download-1", on: b), limit: 2)
        #expect(again.count == 2 && again.allSatisfy { $0.lease.attempt == 2 })
        _ = try await b.complete(again.map { JobCompletion(lease: $0.lease, result: Self.result($0.job.id)) })
        for id in ids {
            let causes = try await b.events(of: id).map(\.cause)
            #expect(causes == ["create", "claim", "requeue", "claim", "complete"], "job \(id): \(causes)")
        }
        let nodes = try await b.cluster()
        #expect(nodes.map(\.name) == ["b", "a"])
        #expect(nodes[0].isLive && nodes[0].jobsHeld == 0)
        #expect(!nodes[1].isLive && nodes[1].stopReason == "lease expired" && nodes[1].liveWorkers == 0)
    }

    @Test("Two live nodes taking over the same dead node at once put each job back exactly once")
    func racingTakeOvers() async throws {
        let cluster = try await Cluster()
        let dead = try await cluster.node("dead")
        let b = try await cluster.node("b")
        let c = try await cluster.node("c")
        defer { cluster.close() }
        let ids = try await Self.enqueue(20, on: b)
        let held = try await dead.claimDueJobs(
            of: .download, for: try await Self.worker("dead.download-1", on: dead), limit: 20)
        #expect(held.count == 20)
        try await cluster.expireLease(of: dead)
        async let fromB = b.takeOverDeadNodes()
        async let fromC = c.takeOverDeadNodes()
        let (byB, byC) = try await (fromB, fromC)
        #expect(byB.count + byC.count == 20)
        for id in ids {
            #expect(try await b.events(of: id).map(\.cause) == ["create", "claim", "requeue"])
        }
    }

    @Test("Start-up recovery takes back only this node's earlier incarnations, never another live node's work")
    func recoveryIsPerNode() async throws {
        let cluster = try await Cluster()
        let first = try await cluster.node("host-a", incarnation: "1")
        let other = try await cluster.node("host-b")
        defer { cluster.close() }
        _ = try await Self.enqueue(3, on: other)
        let mine = try await first.claimDueJobs(
            of: .download, for: try await Self.worker("a1.download-1", on: first), limit: 2)
        let theirs = try await other.claimDueJobs(
            of: .download, for: try await Self.worker("b.download-1", on: other), limit: 1)

        // host-a restarts (its first incarnation froze or died, its lease still running).
        let second = try await cluster.node("host-a", incarnation: "2")
        let recovered = try await second.recoverAfterRestart(reason: "the previous supervisor stopped")
        #expect(Set(recovered.map(\.job.id)) == Set(mine.map(\.job.id)))
        #expect(try await other.job(theirs[0].job.id).state == .running)
        // The frozen first incarnation wakes up: whatever it does is refused.
        await expectFenced {
            try await first.complete(JobCompletion(lease: mine[0].lease, result: Self.result(mine[0].job.id)))
        }
        let nodes = try await other.cluster()
        #expect(nodes.first { $0.id == "host-a.1" }?.stopReason == "superseded by host-a.2")
    }
}

/// Expects `body` to be refused with `node_fenced`.
private func expectFenced<T>(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T) async {
    do {
        _ = try await body()
        Issue.record("a fenced node's write was applied", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error.code == .nodeFenced, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected node_fenced, got \(error)", sourceLocation: sourceLocation)
    }
}
