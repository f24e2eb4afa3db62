import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Testing

/// Cleanup on a cluster: each node's run covers the records whose file it holds, records the node
/// that ran it, and one run is in progress per node; retention never deletes a record whose file
/// another node holds.
@Suite("Cleanup per node on one PostgreSQL queue")
struct ClusterCleanupTests {
    typealias Cluster = NodeLeaseTests.Cluster

    /// A download fetched and completed on `node`, with uploads to `targets`.
    static func fetched(
        on node: PostgresJobStore, worker: String, targets: [String] = [], location: String? = nil
    ) async throws -> JobID {
        let spec = DownloadSpec(url: "https://e.test/\(UUID().uuidString)", uploadTargets: targets)
        let id = try await node.enqueue(download: DownloadRequest(spec: spec, priority: 1_000_000)).job.id
        let claimed = try #require(
            try await node.claimDueJobs(
                of: .download, for: try await NodeLeaseTests.worker(worker, on: node), limit: 1
            ).first)
        #expect(claimed.job.id == id)
        var result = NodeLeaseTests.result(id)
        if let location { result.location = location }
        _ = try await node.complete(JobCompletion(lease: claimed.lease, result: result))
        return id
    }

    @Test("A record whose file is on another node is neither checked, refetched nor failed for by this node")
    func recordsStayWithTheirNode() async throws {
        let cluster = try await Cluster()
        let a = try await cluster.node("a")
        let b = try await cluster.node("b")
        defer { cluster.close() }
        let onA = try await Self.fetched(on: a, worker: "a.download-1", targets: ["s3"])

        let seenByA = try await a.fileRecords().filter { $0.jobID == onA }
        let seenByB = try await b.fileRecords().filter { $0.jobID == onA }
        #expect(seenByA.map(\.isHere) == [true])
        #expect(seenByB.map(\.isHere) == [false], "b must know the path (not an orphan) but not check it")

        // Its upload's source can be judged missing only where the file is.
        #expect(try await a.queuedUploadSources(olderThan: .zero, limit: 10).map(\.source) == ["/srv/\(onA)"])
        #expect(try await b.queuedUploadSources(olderThan: .zero, limit: 10).isEmpty)

        let refused = await expectStoreError(.conflict) {
            try await b.refetch(onA, reason: "cleanup found its file missing")
        }
        #expect(refused?.message.contains("on node a.1") == true, "\(String(describing: refused))")
        #expect(try await a.job(onA).state == .succeeded)

        // Its own node refetches it; any node may fetch it again (the file's node is cleared).
        let again = try await a.refetch(onA, reason: "cleanup found its file missing")
        #expect(again.state == .queued)
        #expect(try await a.fileNodes(of: [onA]).isEmpty)
        // A download being fetched again has no file whose absence could fail its upload.
        #expect(try await a.queuedUploadSources(olderThan: .zero, limit: 10).isEmpty)
    }

    @Test("One cleanup run per node, recorded with its node; only a gone node's runs are abandoned by another")
    func runsPerNode() async throws {
        let cluster = try await Cluster()
        let a = try await cluster.node("a")
        let b = try await cluster.node("b")
        defer { cluster.close() }
        let (runA, startedA) = try await a.beginCleanupRun(trigger: .request, dryRun: false)
        let (runB, startedB) = try await b.beginCleanupRun(trigger: .schedule, dryRun: true)
        #expect(startedA && startedB && runA.id != runB.id, "each node runs its own")
        #expect(runA.node == "a.1" && runB.node == "b.1")
        let (againA, startedAgain) = try await a.beginCleanupRun(trigger: .request, dryRun: true)
        #expect(!startedAgain && againA.id == runA.id)
        #expect(try await a.lastCleanupRun()?.id == runA.id)
        #expect(try await b.lastCleanupRun()?.id == runB.id)

        // b starting again does not touch a's run while a lives.
        try await b.abandonCleanupRuns(reason: "b restarted")
        #expect(try await a.cleanupRun(runA.id)?.state == .running)
        #expect(try await a.cleanupRun(runB.id)?.state == .failed)
        // Once a is gone, its run will never finish: another node records that.
        try await cluster.expireLease(of: a)
        try await b.abandonCleanupRuns(reason: "its node is gone")
        let abandoned = try #require(try await b.cleanupRun(runA.id))
        #expect(abandoned.state == .failed && abandoned.error == "its node is gone")

        // A later incarnation of a's name sees its predecessor's runs as its own.
        let a2 = try await cluster.node("a", incarnation: "2")
        #expect(try await a2.lastCleanupRun()?.id == runA.id)
    }

    @Test("Retention: a record whose file another node holds is left to that node; records without a file to anyone")
    func retentionPerNode() async throws {
        let cluster = try await Cluster()
        let a = try await cluster.node("a")
        let b = try await cluster.node("b")
        defer { cluster.close() }
        let withFile = try await Self.fetched(on: a, worker: "a.download-1")
        let cancelled = try await a.enqueue(download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/c")))
            .job.id
        _ = try await a.cancel(cancelled, reason: "not wanted")
        let future = Date().addingTimeInterval(60)

        let byB = try await b.expireFinished(before: future, keepRecordsWithFiles: false, dryRun: false)
        #expect(byB.records == 1 && byB.files.isEmpty, "\(byB)")
        await expectStoreError(.notFound) { try await a.job(cancelled) }
        #expect(try await a.job(withFile).state == .succeeded, "b deleted a record whose file is on a")

        let byA = try await a.expireFinished(before: future, keepRecordsWithFiles: false, dryRun: false)
        #expect(byA.records == 1 && byA.files == ["/srv/\(withFile)"], "\(byA)")
        await expectStoreError(.notFound) { try await a.job(withFile) }
    }

    @Test("An adopted file is on the node that adopted it")
    func adoptionRecordsTheNode() async throws {
        let cluster = try await Cluster()
        let a = try await cluster.node("a")
        defer { cluster.close() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-adopt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let downloads = folder.appendingPathComponent("downloads").path
        try FileManager.default.createDirectory(atPath: downloads + "/77", withIntermediateDirectories: true)
        let stray = downloads + "/77/stray.bin"
        try Data("found".utf8).write(to: URL(fileURLWithPath: stray))
        let adopted = try await a.adopt(
            file: stray, size: 5, sha256: String(repeating: "ab", count: 32), downloadsFolder: downloads)
        #expect(try await a.fileNodes(of: [adopted.job]) == [adopted.job: "a.1"])
        #expect(try await a.fileRecords().first { $0.jobID == adopted.job }?.isHere == true)
    }
}
