import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Synchronization
import Testing

/// What several nodes need of the PostgreSQL store beyond leases: files stay with the node that
/// holds them, the event feed is in commit order, and new work wakes idle nodes.
@Suite("Several nodes on one PostgreSQL queue")
struct ClusterStoreTests {
    typealias Cluster = NodeLeaseTests.Cluster

    @Test(
        "An upload runs only on the node holding its download's file; when that node dies the file is fetched again elsewhere"
    )
    func uploadsFollowTheirFile() async throws {
        let cluster = try await Cluster()
        let a = try await cluster.node("a")
        let b = try await cluster.node("b")
        defer { cluster.close() }
        let spec = DownloadSpec(url: "https://e.test/film.mp4", uploadTargets: ["s3"])
        let download = try await b.enqueue(download: DownloadRequest(spec: spec)).job.id
        let workerA = try await NodeLeaseTests.worker("a.download-1", on: a)
        let fetched = try #require(try await a.claimDueJobs(of: .download, for: workerA, limit: 1).first)
        _ = try await a.complete(JobCompletion(lease: fetched.lease, result: NodeLeaseTests.result(download)))
        #expect(try await a.uploads(of: download).map(\.state) == [.queued])

        let uploaderB = try await NodeLeaseTests.worker("b.upload-1", on: b)
        #expect(try await b.kindsWithDueWork(among: [.upload]).isEmpty, "b sees an upload whose file is on a")
        #expect(try await b.claimDueJobs(of: .upload, for: uploaderB, limit: 1).isEmpty)
        #expect(try await a.kindsWithDueWork(among: [.upload]) == [.upload])

        // a dies: its file is gone with it, so the download is fetched again, by b this time.
        try await cluster.expireLease(of: a)
        let taken = try await b.takeOverDeadNodes()
        #expect(taken.map(\.job.id) == [download] && taken[0].job.state == .queued)
        let refetch = try #require(
            try await b.claimDueJobs(
                of: .download, for: try await NodeLeaseTests.worker("b.download-1", on: b), limit: 1
            ).first)
        // Pinned to the lost file: some targets may hold it already, so the new fetch must match it.
        var pinned = spec
        pinned.expectedSize = 1
        pinned.expectedSHA256 = String(repeating: "ab", count: 32)
        #expect(refetch.payload == .download(pinned))
        _ = try await b.complete(JobCompletion(lease: refetch.lease, result: NodeLeaseTests.result(download)))
        let upload = try await b.claimDueJobs(of: .upload, for: uploaderB, limit: 1)
        #expect(upload.count == 1, "the upload did not follow its file to b")
        #expect(try await b.uploads(of: download).count == 1, "the refetch created a second upload")
    }

    @Test(
        "Forgetting a dead node settles its files: kept ones are fetched again, delivered ones marked cleaned, what has no source reported lost; refused while it lives"
    )
    func forgetNode() async throws {
        let cluster = try await Cluster()
        let a = try await cluster.node("a")
        let b = try await cluster.node("b")
        defer { cluster.close() }
        await #expect(throws: StoreError.self) { try await b.forgetNode(named: "a") }
        await #expect(throws: StoreError.self) { try await b.forgetNode(named: "nowhere") }

        let worker = try await NodeLeaseTests.worker("a.download-1", on: a)
        let uploader = try await NodeLeaseTests.worker("a.upload-1", on: a)
        func fetched(_ spec: DownloadSpec) async throws -> JobID {
            let id = try await a.enqueue(download: DownloadRequest(spec: spec, priority: 1_000)).job.id
            let claimed = try #require(try await a.claimDueJobs(of: .download, for: worker, limit: 1).first)
            _ = try await a.complete(JobCompletion(lease: claimed.lease, result: NodeLeaseTests.result(claimed.job.id)))
            return id
        }
        // Kept on a's disk: fetched again. Delivered, to be removed after its upload: cleaned.
        let kept = try await fetched(DownloadSpec(url: "https://e.test/kept.mp4"))
        var spec = DownloadSpec(url: "https://e.test/sent.mp4", uploadTargets: ["s3"])
        spec.deleteAfterUpload = true
        let sent = try await fetched(spec)
        let upload = try #require(try await a.claimDueJobs(of: .upload, for: uploader, limit: 1).first)
        _ = try await a.complete(JobCompletion(lease: upload.lease, result: NodeLeaseTests.result(upload.job.id)))
        // Adopted from a file on a: nothing to fetch it from.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-forget-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let downloads = folder.appendingPathComponent("downloads").path
        try FileManager.default.createDirectory(atPath: downloads + "/9", withIntermediateDirectories: true)
        try Data("found".utf8).write(to: URL(fileURLWithPath: downloads + "/9/stray.bin"))
        let adopted = try await a.adopt(
            file: downloads + "/9/stray.bin", size: 5, sha256: String(repeating: "ab", count: 32),
            downloadsFolder: downloads
        ).job
        // Running on a when it died.
        let running = try await a.enqueue(download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/r"))).job.id
        _ = try #require(try await a.claimDueJobs(of: .download, for: worker, limit: 1).first)

        try await cluster.expireLease(of: a)
        // A dry run reports exactly what forgetting does, and changes nothing.
        let rehearsal = try await b.forgetNode(named: "a", dryRun: true)
        #expect(rehearsal.refetched == [kept] && rehearsal.cleaned == [sent] && rehearsal.released == [running])
        #expect(try await b.job(running).state == .running)
        #expect(try await b.job(kept).state == .succeeded)
        #expect(try await b.uploads(of: sent).map(\.state) == [.succeeded])
        let report = try await b.forgetNode(named: "a")
        #expect(report == rehearsal)
        #expect(report.incarnations == ["a.1"])
        #expect(report.released == [running])
        #expect(report.refetched == [kept])
        #expect(report.cleaned == [sent])
        #expect(report.lost == [adopted])
        let refetch = try #require(
            try await b.claimDueJobs(
                of: .download, for: try await NodeLeaseTests.worker("b.download-1", on: b), limit: 2
            ).first { $0.job.id == kept })
        guard case .download(let pinned) = refetch.payload else { throw StoreError(.corrupt, "not a download") }
        #expect(pinned.expectedSize == 1 && pinned.expectedSHA256 == String(repeating: "ab", count: 32))
        #expect(try await b.uploads(of: sent).map(\.state) == [.cleaned])
        #expect(try await b.job(adopted).state == .succeeded)
        // Done once: forgetting again finds nothing more to settle.
        let again = try await b.forgetNode(named: "a")
        #expect(again.refetched.isEmpty && again.cleaned.isEmpty && again.released.isEmpty)
        // The lost record has no file anywhere: retention on any node expires it, with no file to remove.
        let expired = try await b.expireFinished(
            before: Date().addingTimeInterval(60), keepRecordsWithFiles: true, dryRun: false)
        #expect(expired.files.isEmpty, "\(expired)")
        await #expect(throws: StoreError.self) { try await b.job(adopted) }
    }

    @Test(
        "An upload whose download's refetch failed for good fails too, saying why, instead of waiting for ever (found by the chaos suite's cluster scenario)"
    )
    func strandedUploadFails() async throws {
        let cluster = try await Cluster()
        let a = try await cluster.node("a")
        let b = try await cluster.node("b")
        defer { cluster.close() }
        let spec = DownloadSpec(url: "https://e.test/gone.mp4", uploadTargets: ["s3"])
        let download = try await a.enqueue(download: DownloadRequest(spec: spec)).job.id
        let fetched = try #require(
            try await a.claimDueJobs(
                of: .download, for: try await NodeLeaseTests.worker("a.download-1", on: a), limit: 1
            ).first)
        _ = try await a.complete(JobCompletion(lease: fetched.lease, result: NodeLeaseTests.result(download)))
        try await cluster.expireLease(of: a)
        _ = try await b.takeOverDeadNodes()
        // The source is gone by now: the refetch fails for good.
        let refetch = try #require(
            try await b.claimDueJobs(
                of: .download, for: try await NodeLeaseTests.worker("b.download-1", on: b), limit: 1
            ).first)
        _ = try await b.fail(refetch.lease, with: .permanent("http_404", "the source is gone"), resumeState: nil)
        #expect(try await b.job(download).state == .failed)
        #expect(try await b.uploads(of: download).map(\.state) == [.queued])

        _ = try await b.takeOverDeadNodes()
        let upload = try #require(try await b.uploads(of: download).first)
        #expect(upload.state == .failed)
        #expect(upload.lastError?.code == "source_missing")
        #expect(upload.lastError?.message.contains("its download \(download) ended failed") == true, "\(upload)")
        #expect(try await b.takeOverDeadNodes().isEmpty, "a second pass finds nothing more to do")
    }

    @Test(
        "A take-over never waits for a frozen node's row locks: it skips the locked job and takes it on a later pass (found by the chaos suite's cluster scenario, seed 36)",
        // A take-over that waited for the lock would never return; the limit ends it. Generous:
        // under the full suite's load this test has taken 43 s where it takes 2 alone.
        .timeLimit(.minutes(3)))
    func takeOverSkipsLockedRows() async throws {
        let cluster = try await Cluster()
        let a = try await cluster.node("a")
        let b = try await cluster.node("b")
        defer { cluster.close() }
        for name in ["held", "free"] {
            _ = try await b.enqueue(download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/\(name).mp4")))
        }
        let claimed = try await b.claimDueJobs(
            of: .download, for: try await NodeLeaseTests.worker("b.download-1", on: b), limit: 2)
        #expect(claimed.count == 2)
        let (held, free) = (claimed[0].job.id, claimed[1].job.id)
        // b froze inside a transaction that had locked one of its jobs: the row stays locked
        // until the server ends that transaction.
        let database = String(cluster.url.split(separator: "/").last!.split(separator: "?")[0])
        let lock = try await PostgresRowLock(
            on: try await PostgresTestServer.shared(), database: database,
            select: "SELECT id FROM jobs WHERE id = \(held.rawValue) FOR UPDATE")
        defer { lock.abandon() }

        try await cluster.expireLease(of: b)
        // The lock is held until this test ends the locking transaction, so a take-over that
        // waited for it would never return (the time limit ends the test); no timing is judged.
        let first = try await a.takeOverDeadNodes()
        #expect(try await lock.isHeld(), "the take-over returned while the row was still locked")
        #expect(first.map(\.job.id) == [free], "\(first.map(\.job.id))")
        #expect(try await a.job(held).state == .running, "the locked job is left for a later pass")

        // The server ends the frozen transaction, as it does a dead node's once its connection goes.
        await lock.release()
        let second = try await a.takeOverDeadNodes()
        #expect(second.map(\.job.id) == [held], "\(second.map(\.job.id))")
        #expect(try await a.job(held).state == .queued)
        #expect(try await a.takeOverDeadNodes().isEmpty, "a third pass finds nothing more to do")
    }

    @Test("A reader tailing the event feed while four writers commit at once sees every event, in order")
    func eventFeedInCommitOrder() async throws {
        let cluster = try await Cluster()
        let writer = try await cluster.node("writer")
        let reader = try await cluster.node("reader")
        defer { cluster.close() }
        // The tail reads while the writers commit, then once more after the last commit: an
        // event it passed over (one that committed after a later id was read) is missing for ever.
        let writing = WritersDone()
        let tail = Task {
            var seen: [Int64] = []
            var last: Int64 = 0
            while true {
                let finished = writing.isDone
                let batch = try await reader.events(after: last, limit: 1000)
                seen += batch.map(\.id)
                last = batch.last?.id ?? last
                if finished && batch.isEmpty { return seen }
                if batch.isEmpty { try await Task.sleep(for: .milliseconds(1)) }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writerIndex in 0..<4 {
                group.addTask {
                    for job in 0..<50 {
                        _ = try await writer.enqueue(
                            download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/\(writerIndex)/\(job)")))
                    }
                }
            }
            try await group.waitForAll()
        }
        writing.finish()
        let seen = try await tail.value
        let all = try await reader.events(after: 0, limit: 10_000).map(\.id)
        #expect(seen == all, "the tail missed \(Set(all).subtracting(seen).count) events")
    }

    // The time limits only end a hang: under the whole suite's load the set-up alone took 55 s.
    @Test("New work on another node wakes a listening node", .timeLimit(.minutes(3)))
    func wakeUps() async throws {
        let cluster = try await Cluster()
        let listener = try await cluster.node("idle")
        let producer = try await cluster.node("busy")
        defer { cluster.close() }
        var wakeUps = listener.wakeUps().makeAsyncIterator()
        #expect(await wakeUps.next() == .listening)
        let start = ContinuousClock.now
        _ = try await producer.enqueue(download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/new")))
        let first = await wakeUps.next()
        let latency = ContinuousClock.now - start
        #expect(first == .work(.download))
        print("wake-up after an enqueue on another node: \(latency)")
    }

    @Test(
        "A lane's upload ending on one node wakes the others: the lane's next upload may wait on another node",
        .timeLimit(.minutes(3)))
    func laneFreedWakesOtherNodes() async throws {
        let cluster = try await Cluster()
        let listener = try await cluster.node("idle")
        let producer = try await cluster.node("busy", serialTargets: ["tg"])
        defer { cluster.close() }
        let spec = DownloadSpec(url: "https://e.test/relayed", uploadTargets: ["tg"])
        let download = try await producer.enqueue(download: DownloadRequest(spec: spec)).job.id
        let fetcher = try await NodeLeaseTests.worker("busy.download-1", on: producer)
        let fetched = try #require(try await producer.claimDueJobs(of: .download, for: fetcher, limit: 1).first)
        _ = try await producer.complete(JobCompletion(lease: fetched.lease, result: NodeLeaseTests.result(download)))
        let uploader = try await NodeLeaseTests.worker("busy.upload-1", on: producer)
        let upload = try #require(try await producer.claimDueJobs(of: .upload, for: uploader, limit: 1).first)
        #expect(upload.job.lane == "tg")

        var wakeUps = listener.wakeUps().makeAsyncIterator()
        #expect(await wakeUps.next() == .listening)
        _ = try await producer.complete(
            JobCompletion(lease: upload.lease, result: NodeLeaseTests.result(upload.job.id)))
        // Nothing waits in the queue after that statement: only the freed lane can wake it (without,
        // this waits for the time limit).
        let heard = await wakeUps.next()
        #expect(heard == .work(.upload))
    }
}

/// Set once every writer has committed.
final class WritersDone: Sendable {
    private let done = Mutex(false)
    var isDone: Bool { done.withLock { $0 } }
    func finish() { done.withLock { $0 = true } }
}
