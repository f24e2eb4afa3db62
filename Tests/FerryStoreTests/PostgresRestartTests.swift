import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Testing

/// PostgreSQL restarting under a running store: calls during the outage fail with a clear,
/// typed error; once it is back, the same store works again without being reopened, nothing
/// committed is lost, and a node listening for work listens again.
@Suite("PostgreSQL restarts under the store")
struct PostgresRestartTests {
    @Test(
        "A restart loses nothing, fails calls clearly while it lasts, and the store and its listener recover",
        .timeLimit(.minutes(3)))
    func restart() async throws {
        let server = try await PostgresTestServer.startPrivate()
        defer { server.abandon() }
        let url = try await server.makeDatabase()
        var configuration = try PostgresStoreConfiguration.patient(url)
        configuration.node = NodeIdentity(name: "survivor", lease: .seconds(3600))
        let store = try await PostgresJobStore.open(configuration)
        defer { store.close() }
        try await store.migrate()
        try await store.registerNode()
        var wakeUps = store.wakeUps().makeAsyncIterator()
        #expect(await wakeUps.next() == .listening)

        let worker = WorkerID("survivor.download-1")
        try await store.registerWorker(WorkerRecord(id: worker, role: .download, slot: 1, pid: 7, startedAt: Date()))
        let ids = try await store.enqueue(
            downloads: (0..<10).map { DownloadRequest(spec: DownloadSpec(url: "https://e.test/\($0)")) }
        ).map(\.job.id)
        #expect(await wakeUps.next() == .work(.download))
        let claimed = try await store.claimDueJobs(of: .download, for: worker, limit: 5)
        let eventsBefore = try await store.events(after: 0, limit: 1000).count

        // A store of the production kind, whose calls have a short deadline, meets the outage.
        var short = try PostgresStoreConfiguration(url: url)
        short.callTimeout = .seconds(3)
        short.connectTimeout = .seconds(120)  // opening it on a busy machine is not the point
        let probe = try await PostgresJobStore.open(short)
        defer { probe.close() }
        await server.stop()
        let down = ContinuousClock.now
        do {
            _ = try await probe.queueCounts()
            Issue.record("a call succeeded while PostgreSQL was down")
        } catch {
            #expect(error.code == .unavailable, "\(error)")
        }

        print("a call during the outage failed after \(ContinuousClock.now - down)")
        try await server.start()
        let up = ContinuousClock.now
        // The pool connects again on its own, after a backoff that grew while the server was down.
        var counts: [QueueCount] = []
        for _ in 0..<600 {
            if let read = try? await store.queueCounts() {
                counts = read
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        print("the store answered again \(ContinuousClock.now - up) after the server was back")
        #expect(counts.first { $0.state == .running }?.count == 5)
        #expect(counts.first { $0.state == .queued }?.count == 5)
        #expect(try await store.events(after: 0, limit: 1000).count == eventsBefore)
        #expect(await wakeUps.next() == .listening, "the listener did not listen again")

        // Work goes on: the held jobs complete, the rest are claimed.
        _ = try await store.complete(
            claimed.map {
                JobCompletion(
                    lease: $0.lease,
                    result: JobResult(location: "/x/\($0.job.id)", size: 1, sha256: String(repeating: "cd", count: 32)))
            })
        #expect(try await store.claimDueJobs(of: .download, for: worker, limit: 10).count == 5)
        #expect(Set(try await store.jobs(matching: JobQuery(kind: .download, limit: 100)).map(\.id)) == Set(ids))
    }
}
