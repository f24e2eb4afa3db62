import FerryCore
import Foundation
import Testing

@testable import FerryStore

/// Group commit: one transaction for a batch of reports, progress, heartbeats and claims, where a
/// refused item is rolled back alone.
@Suite("Group commit")
struct GroupCommitTests {
    @Test(
        "A batch with refused reports applies the others, then claims the capacity they freed",
        arguments: StoreBackend.allCases)
    func refusedReportsLeaveTheOthers(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let store = fixture.store
        let worker = try await fixture.worker("download-1.a")
        var running: [ClaimedJob] = []
        for name in ["a", "b", "c", "d", "e", "f", "g"] {
            let targets = name == "a" ? ["s3"] : []
            running.append(
                try await fixture.runningDownload(
                    DownloadSpec(url: "https://e.test/\(name)", uploadTargets: targets), owner: worker))
        }
        let (a, b, c, d, e, f, g) = (running[0], running[1], running[2], running[3], running[4], running[5], running[6])
        let queued = try await store.enqueue(downloads: [
            DownloadRequest(spec: DownloadSpec(url: "https://e.test/q1")),
            DownloadRequest(spec: DownloadSpec(url: "https://e.test/q2")),
        ])
        // An operator cancels c while its worker finishes it: its completion must be refused alone.
        _ = try await store.cancel(c.job.id, reason: "operator")
        fixture.clock.advance(by: 1)

        let applied = try await store.apply(
            ReportBatch(
                reports: [
                    .completed(JobCompletion(lease: a.lease, result: StoreFixture.result(for: a.job.id))),
                    .completed(JobCompletion(lease: b.lease, result: StoreFixture.result(for: b.job.id))),
                    .completed(JobCompletion(lease: c.lease, result: StoreFixture.result(for: c.job.id))),
                    .failed(d.lease, .retryable("http_503", "the origin is busy"), resumeState: "{\"offset\":5}"),
                    .stopped(e.lease, reason: "drained", resumeState: nil),
                    .completed(
                        JobCompletion(
                            lease: f.lease, result: JobResult(location: "/x", size: 1, sha256: "not-a-hash"))),
                ],
                progress: [ProgressReport(lease: g.lease, progress: JobProgress(bytesDone: 77, bytesTotal: 100))],
                heartbeats: [worker],
                claims: [ReportBatch.Claim(kind: .download, owner: worker, limit: 3)]))

        #expect(applied.reports.count == 6)
        guard case .success(.completed(let doneA)) = applied.reports[0],
            case .success(.completed(let doneB)) = applied.reports[1]
        else { Issue.record("a and b were not completed: \(applied.reports)"); return }
        #expect(doneA.state == .succeeded && doneB.state == .succeeded)
        guard case .failure(let lost) = applied.reports[2] else { Issue.record("c's completion was applied"); return }
        #expect(lost.code == .leaseLost)
        guard case .success(.failed(.retryScheduled(let retried))) = applied.reports[3] else {
            Issue.record("d was not scheduled for a retry: \(applied.reports[3])"); return
        }
        #expect(retried.state == .queued && retried.dueAt > fixture.clock.now)
        guard case .success(.released(let released)) = applied.reports[4] else {
            Issue.record("e was not released: \(applied.reports[4])"); return
        }
        guard case .failure(let invalid) = applied.reports[5] else { Issue.record("f's bad hash was applied"); return }
        #expect(invalid.code == .invalidInput)

        // What the database holds after the one commit.
        #expect(try await store.job(c.job.id).state == .cancelled)
        #expect(try await store.job(f.job.id).state == .running, "a refused report leaves its job as it was")
        #expect(try await store.job(g.job.id).progress.bytesDone == 77)
        #expect(try await store.uploads(of: a.job.id).map(\.state) == [.queued], "the follow-up upload is created")
        let record = try #require(try await store.workers(includeExited: false, limit: 10).first { $0.id == worker })
        #expect(record.lastHeartbeatAt == fixture.clock.now)

        // The claim ran after the reports: the released job (highest priority, due now) and the
        // two queued ones fill the slot; d's retry is not due yet.
        guard case .success(let claimed) = applied.claims.first else {
            Issue.record("the claim was refused: \(applied.claims)"); return
        }
        #expect(Set(claimed.map(\.job.id)) == Set([released.id] + queued.map(\.job.id)))
        #expect(claimed.allSatisfy { $0.job.state == .running && $0.job.owner == worker })
    }

    @Test(
        "A refusal in a batch of well-formed reports undoes the whole try and applies the rest once, nothing twice",
        arguments: StoreBackend.allCases)
    func refusalAppliesTheRestOnce(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let store = fixture.store
        let worker = try await fixture.worker("download-1.a")
        let kept = try await fixture.runningDownload(DownloadSpec(url: "https://e.test/kept"), owner: worker)
        let cancelled = try await fixture.runningDownload(DownloadSpec(url: "https://e.test/gone"), owner: worker)
        let next = try await store.enqueue(downloads: [DownloadRequest(spec: DownloadSpec(url: "https://e.test/next"))])
        _ = try await store.cancel(cancelled.job.id, reason: "operator")

        // The cancelled job's completion comes last, after the kept one was already applied.
        let applied = try await store.apply(
            ReportBatch(
                reports: [
                    .completed(JobCompletion(lease: kept.lease, result: StoreFixture.result(for: kept.job.id))),
                    .completed(
                        JobCompletion(lease: cancelled.lease, result: StoreFixture.result(for: cancelled.job.id))),
                ],
                claims: [ReportBatch.Claim(kind: .download, owner: worker, limit: 1)]))

        guard case .success(.completed(let done)) = applied.reports[0] else {
            Issue.record("the kept job was not completed: \(applied.reports)"); return
        }
        #expect(done.state == .succeeded)
        guard case .failure(let refusal) = applied.reports[1] else { Issue.record("a cancelled job completed"); return }
        #expect(refusal.code == .leaseLost)
        guard case .success(let claimed) = applied.claims.first else { Issue.record("the claim was refused"); return }
        #expect(claimed.map(\.job.id) == next.map(\.job.id))
        // Applied once: one completion event, one claim event, whatever was tried first.
        #expect(try await store.events(of: kept.job.id).filter { $0.cause == "complete" }.count == 1)
        #expect(try await store.events(of: next[0].job.id).filter { $0.cause == "claim" }.count == 1)
        #expect(try await store.job(cancelled.job.id).state == .cancelled)
    }

    @Test(
        "A claim for a worker that has exited is refused alone; a database failure applies nothing",
        arguments: StoreBackend.allCases)
    func claimsAreIsolated(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let store = fixture.store
        let live = try await fixture.worker("download-1.live")
        let gone = try await fixture.worker("download-2.gone")
        _ = try await store.recordWorkerExit(gone, exit: WorkerExit(at: fixture.clock.now, reason: "killed"))
        _ = try await store.enqueue(
            downloads: (1...4).map { DownloadRequest(spec: DownloadSpec(url: "https://e.test/\($0)")) })

        let applied = try await store.apply(
            ReportBatch(claims: [
                ReportBatch.Claim(kind: .download, owner: gone, limit: 2),
                ReportBatch.Claim(kind: .download, owner: live, limit: 2),
            ]))
        guard case .failure = applied.claims[0] else { Issue.record("an exited worker claimed work"); return }
        guard case .success(let claimed) = applied.claims[1] else { Issue.record("the live claim was refused"); return }
        #expect(claimed.count == 2)
        #expect(try await store.jobs(matching: JobQuery(states: [.running])).count == 2)

        // A read-only database: the batch is refused whole and nothing of it is written. (SQLite
        // only: PostgreSQL's read-only switch reaches new sessions only, not the pool's open ones.)
        guard let store = store as? SQLiteJobStore else { return }
        let waiting = try await store.jobs(matching: JobQuery(states: [.queued]))
        try await store.pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = 1") }
        await expectStoreError(.unavailable) {
            try await store.apply(ReportBatch(claims: [ReportBatch.Claim(kind: .download, owner: live, limit: 2)]))
        }
        try await store.pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = 0") }
        #expect(try await store.jobs(matching: JobQuery(states: [.queued])) == waiting)
    }
}
