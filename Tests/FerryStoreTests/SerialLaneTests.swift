import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import GRDB
import Testing

@testable import FerryStore

/// Uploads to a target that takes one at a time (Telegram) run one at a time, oldest first,
/// without holding uploads to other targets behind them.
@Suite("Serial lanes")
struct SerialLaneTests {
    /// Three downloads, each to the serial target `tg` and to `s3`: their uploads, by target.
    private static func backlog(_ fixture: EngineFixture) async throws -> (tg: [JobID], s3: [JobID]) {
        let owner = try await fixture.worker("download-1.a")
        var tg: [JobID] = []
        var s3: [JobID] = []
        for _ in 0..<3 {
            let done = try await fixture.succeededDownload(targets: ["tg", "s3"], owner: owner)
            for upload in try await fixture.store.uploads(of: done.id) {
                guard case .upload(let spec) = try await fixture.store.payload(of: upload.id) else { continue }
                if spec.target == "tg" { tg.append(upload.id) } else { s3.append(upload.id) }
            }
        }
        return (tg.sorted(), s3.sorted())
    }

    @Test(
        "A serial target's uploads are claimed one at a time, oldest first, and the other targets' are not held behind them",
        arguments: StoreBackend.allCases)
    func oneAtATime(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend, serialTargets: ["tg"])
        let store = fixture.store
        let (tg, s3) = try await Self.backlog(fixture)
        let uploader = try await fixture.worker("upload-1.a", role: .upload)

        let (queuedTG, queuedS3) = (try await store.job(tg[1]), try await store.job(s3[0]))
        #expect(queuedTG.lane == "tg" && queuedS3.lane == nil)
        let first = try await store.claimDueJobs(of: .upload, for: uploader, limit: 10)
        #expect(Set(first.map(\.job.id)) == Set([tg[0]] + s3), "one of the lane, every other upload")
        // The lane's waiting uploads are not due work: an idle supervisor must not spin on them.
        #expect(try await store.kindsWithDueWork(among: [.upload]).isEmpty)
        #expect(try await store.earliestDue(among: [.upload])[.upload] == nil)
        #expect(try await store.claimDueJobs(of: .upload, for: uploader, limit: 10).isEmpty)

        let head = try #require(first.first { $0.job.id == tg[0] })
        _ = try await store.complete(JobCompletion(lease: head.lease, result: EngineFixture.result(for: tg[0])))
        #expect(try await store.kindsWithDueWork(among: [.upload]) == [.upload])
        let second = try await store.claimDueJobs(of: .upload, for: uploader, limit: 10)
        #expect(second.map(\.job.id) == [tg[1]], "the next oldest of the lane, alone")

        // A failed attempt waiting for its retry does not block the lane: the next one goes.
        let outcome = try await store.fail(
            second[0].lease, with: JobFailure(code: "http_503", message: "busy", failureClass: .retryable))
        guard case .retryScheduled = outcome else {
            Issue.record("expected a retry, got \(outcome)")
            return
        }
        #expect(try await store.claimDueJobs(of: .upload, for: uploader, limit: 10).map(\.job.id) == [tg[2]])
    }

    @Test(
        "With several lanes, each free lane's head is claimed, oldest first, and a busy lane holds only its own",
        arguments: StoreBackend.allCases)
    func severalLanes(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend, serialTargets: ["tg-a", "tg-b", "tg-c"])
        let owner = try await fixture.worker("download-1.a")
        var lanes: [String: [JobID]] = [:]
        // Interleaved, so that each lane's uploads are not neighbours in claim order.
        for _ in 0..<2 {
            for target in ["tg-c", "tg-a", "s3", "tg-b"] {
                let done = try await fixture.succeededDownload(targets: [target], owner: owner)
                lanes[target, default: []] += try await fixture.store.uploads(of: done.id).map(\.id)
            }
        }
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let first = try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 10)
        let heads = ["tg-a", "tg-b", "tg-c"].map { lanes[$0]![0] }
        #expect(Set(first.map(\.job.id)) == Set(heads + lanes["s3"]!), "each lane's head and every s3 upload")
        #expect(first.map(\.job.id) == first.map(\.job.id).sorted(), "in claim order")
        let b = try #require(first.first { $0.job.id == lanes["tg-b"]![0] })
        _ = try await fixture.store.complete(JobCompletion(lease: b.lease, result: EngineFixture.result(for: b.job.id)))
        #expect(try await fixture.store.kindsWithDueWork(among: [.upload]) == [.upload])
        #expect(try await fixture.store.earliestDue(among: [.upload])[.upload] != nil)
        let second = try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 10)
        #expect(second.map(\.job.id) == [lanes["tg-b"]![1]], "only the freed lane's next")
        #expect(try await fixture.store.kindsWithDueWork(among: [.upload]).isEmpty)
        #expect(try await fixture.store.earliestDue(among: [.upload])[.upload] == nil)
    }

    @Test(
        "A claim of uploads reads other targets' uploads from their own index, not past a busy lane's backlog (SQLite's plan)"
    )
    func claimPlanSkipsHeldUploads() async throws {
        let fixture = try StoreFixture(serialTargets: ["tg"])
        let sql = SQLiteJobStore.waitingSets(.upload).candidates(now: "?2", limit: "?3")
        let plan = try await fixture.store.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN \(sql)", arguments: [nil, 1, 10]).map {
                $0["detail"] as String
            }
        }
        // Before, one scan of `jobs_queue` tested the lane condition on every waiting upload,
        // held or not: 11.6 ms a claim behind 10,000 held uploads, 0.5 ms after (BENCHMARKS.md).
        #expect(plan.contains { $0.contains("USING INDEX jobs_free_uploads") }, "\(plan)")
        #expect(plan.contains { $0.contains("USING INDEX jobs_lane_queue") }, "\(plan)")
        #expect(!plan.contains { $0.contains("jobs_queue ") || $0.hasPrefix("SCAN jobs") }, "\(plan)")
    }

    @Test("Uploads to targets that are not serial run side by side", arguments: StoreBackend.allCases)
    func otherTargetsRunTogether(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let (tg, s3) = try await Self.backlog(fixture)
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let claimed = try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 10)
        #expect(Set(claimed.map(\.job.id)) == Set(tg + s3))
    }

    @Test("The database refuses a second running upload in a lane, whoever writes it", arguments: StoreBackend.allCases)
    func schemaRefusesSecondRunner(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend, serialTargets: ["tg"])
        let s3 = try await Self.backlog(fixture).s3
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let running = try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 10)
        #expect(running.count == 4)
        // An s3 upload, running beside the lane's one, moved into the lane by hand.
        try await Self.expectRefused(
            fixture, "UPDATE jobs SET lane = 'tg' WHERE id = \(s3[0].rawValue)",
            mentioning: backend == .sqlite ? "jobs.lane" : "jobs_one_running_per_lane")
        // A lane is only an upload's.
        let download = try await fixture.succeededDownload(owner: try await fixture.worker("download-2.a"))
        try await Self.expectRefused(
            fixture, "UPDATE jobs SET lane = 'tg' WHERE id = \(download.id.rawValue)",
            mentioning: "jobs_lane_of_an_upload")
    }

    /// Expects the fixture's database to refuse raw `sql`, saying `text`: the sqlite3 shell's or psql's view.
    private static func expectRefused(
        _ fixture: EngineFixture, _ sql: String, mentioning text: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        if let sqlite = fixture.sqliteFixture {
            await sqlite.expectRefused(sql, mentioning: text, sourceLocation: sourceLocation)
            return
        }
        let database = String(try #require(fixture.postgresURL).split(separator: "/").last!.split(separator: "?")[0])
        let result = try await PostgresTestServer.shared().psql(database, sql)
        #expect(result.status != 0 && result.output.contains(text), "\(result.output)", sourceLocation: sourceLocation)
    }

    @Test(
        "Uploads queued before their target took one at a time get its lane at the next start, and lose it when it no longer does",
        arguments: StoreBackend.allCases)
    func lanesFollowTheConfiguration(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let (tg, _) = try await Self.backlog(fixture)
        for id in tg { #expect(try await fixture.store.job(id).lane == nil) }
        let serial = try await Self.reopened(fixture, serialTargets: ["tg"])
        #expect(try await serial.store.assignLanes() == 3)
        #expect(try await serial.store.assignLanes() == 0, "nothing left to move")
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let claimed = try await serial.store.claimDueJobs(of: .upload, for: uploader, limit: 10)
        #expect(claimed.filter { $0.job.lane == "tg" }.map(\.job.id) == [tg[0]], "the lane holds")
        // The target no longer takes one at a time: the waiting ones leave the lane, the running one keeps it.
        let plain = try await Self.reopened(fixture, serialTargets: [])
        #expect(try await plain.store.assignLanes() == 2)
        #expect(try await fixture.store.job(tg[0]).lane == "tg")
        #expect(try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 10).count == 2)
        serial.close()
        plain.close()
    }

    /// Another store on the fixture's database, with `serialTargets` (a restart after the
    /// configuration changed).
    private static func reopened(
        _ fixture: EngineFixture, serialTargets: Set<String>
    ) async throws -> (store: any JobStore, close: () -> Void) {
        let clock = fixture.clock
        if let sqlite = fixture.sqliteFixture {
            var configuration = StoreConfiguration(path: sqlite.path, now: { clock.now })
            configuration.serialTargets = serialTargets
            return (try SQLiteJobStore.open(configuration), {})
        }
        var configuration = try PostgresStoreConfiguration.patient(
            try #require(fixture.postgresURL), now: { clock.now })
        configuration.serialTargets = serialTargets
        let store = try await PostgresJobStore.open(configuration)
        return (store, { store.close() })
    }

    @Test(
        "A lane's head another node is claiming right now (its row locked) holds the rest of the lane back: the claim passes over it, never ahead of it (PostgreSQL)"
    )
    func lockedHeadKeepsOrder() async throws {
        let fixture = try await EngineFixture(.postgres, serialTargets: ["tg"])
        let (tg, s3) = try await Self.backlog(fixture)
        let database = String(try #require(fixture.postgresURL).split(separator: "/").last!.split(separator: "?")[0])
        let lock = try await PostgresRowLock(
            on: try await PostgresTestServer.shared(), database: database,
            select: "SELECT id FROM jobs WHERE id = \(tg[0].rawValue) FOR UPDATE")
        defer { lock.abandon() }
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let claimed = try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 10)
        // Before the head was read from the snapshot, SKIP LOCKED made tg[1] look like the head
        // (a clean-clone run of this suite under load claimed a lane's 12th upload before its 4th).
        #expect(Set(claimed.map(\.job.id)) == Set(s3), "\(claimed.map(\.job.id)) of tg \(tg)")
        await lock.release()
        let next = try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 10)
        #expect(next.map(\.job.id) == [tg[0]])
    }

    @Test("Two nodes claiming one lane at the same time never both run an upload of it (PostgreSQL)")
    func twoNodesOneLane() async throws {
        let fixture = try await EngineFixture(.postgres, serialTargets: ["tg"])
        let owner = try await fixture.worker("download-1.a")
        var lane: [JobID] = []
        for _ in 0..<8 {
            let done = try await fixture.succeededDownload(targets: ["tg"], owner: owner)
            lane += try await fixture.store.uploads(of: done.id).map(\.id)
        }
        var configuration = try PostgresStoreConfiguration.patient(try #require(fixture.postgresURL))
        configuration.serialTargets = ["tg"]
        let second = try await PostgresJobStore.open(configuration)
        defer { second.close() }
        let stores: [any JobStore] = [fixture.store, second]
        let workers = [
            try await fixture.worker("upload-1.a", role: .upload),
            try await fixture.worker("upload-2.a", role: .upload),
        ]

        var order: [JobID] = []
        for _ in 0..<lane.count {
            // Both nodes claim at once, four times each; the lane yields one upload in all.
            let claimed = try await withThrowingTaskGroup(of: [ClaimedJob].self) { group in
                for index in 0..<8 {
                    let (store, worker) = (stores[index % 2], workers[index % 2])
                    group.addTask { try await store.claimDueJobs(of: .upload, for: worker, limit: 4) }
                }
                return try await group.reduce(into: [ClaimedJob]()) { $0 += $1 }
            }
            #expect(claimed.count == 1, "claimed at once: \(claimed.map(\.job.id))")
            guard let one = claimed.first else { break }
            order.append(one.job.id)
            _ = try await fixture.store.complete(
                JobCompletion(lease: one.lease, result: EngineFixture.result(for: one.job.id)))
        }
        #expect(order == lane.sorted(), "oldest first")
    }
}
