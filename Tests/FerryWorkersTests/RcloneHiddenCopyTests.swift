import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

extension RcloneUploadTests {
    @Test(
        "A hidden copy that lands beside an rclone delivery after it (a killed attempt's late request) is removed by the next cleanup run; a dry run only lists it"
    )
    func lateHiddenCopyRemoved() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let remote = "box:" + folder.appendingPathComponent("remote").path
        // The records: a download delivered to the rclone target `drive` by a real rclone.
        let store = try SQLiteJobStore.open(StoreConfiguration(path: folder.appendingPathComponent("ferry.db").path))
        _ = try store.migrate()
        let worker = WorkerID("upload-1.a")
        try await store.registerWorker(WorkerRecord(id: worker, role: .upload, slot: 1, pid: 1, startedAt: Date()))
        let file = try source(size: 300_000)
        _ = try await store.enqueue(
            download: DownloadRequest(spec: DownloadSpec(url: "https://example.test/m", uploadTargets: ["drive"])))
        let download = try #require(try await store.claimDueJobs(of: .download, for: worker, limit: 1).first)
        _ = try await store.complete(
            JobCompletion(
                lease: download.lease,
                result: JobResult(location: file.sourcePath, size: file.sourceSize, sha256: file.sourceSHA256)))
        let upload = try #require(try await store.claimDueJobs(of: .upload, for: worker, limit: 1).first)
        var spec = file
        spec.downloadID = download.job.id
        let result = try await self.upload(executor(remote: remote), spec).get()
        _ = try await store.complete(JobCompletion(lease: upload.lease, result: result))

        // The late request lands: the hidden copy is back beside the delivered object.
        let object = "\(download.job.id.rawValue)/movie.bin"
        let hidden = folder.appendingPathComponent("remote/\(download.job.id.rawValue)/.movie.bin.ferry-partial")
        try TestOrigin.content(size: 300_000).write(to: hidden)
        var rclone = UploadTarget.Rclone(remote: remote)
        rclone.configFile = folder.appendingPathComponent("rclone.conf").path
        let scanner = CleanupScanner(
            stateDirectory: folder.path, targets: [UploadTarget(name: "drive", kind: .rclone, rclone: rclone)])
        func order(dryRun: Bool) -> CleanupOrder {
            CleanupOrder(
                runID: 1, dryRun: dryRun, database: .sqlite(path: store.configuration.path), verifyHashes: false,
                orphans: .report, partialMaxAge: .seconds(3600), settleTime: .seconds(3600))
        }
        let expected = ["drive:\(download.job.id.rawValue)/.movie.bin.ferry-partial"]
        let dry = await scanner.run(order(dryRun: true))
        #expect(dry.error == nil)
        #expect(dry.report.hiddenCopies == expected)
        #expect(FileManager.default.fileExists(atPath: hidden.path), "a dry run removes nothing")
        let real = await scanner.run(order(dryRun: false))
        #expect(real.report.hiddenCopies == expected)
        #expect(real.report.foundProblems)
        #expect(!FileManager.default.fileExists(atPath: hidden.path))
        #expect(
            try TestOrigin.sha256(ofFile: folder.appendingPathComponent("remote/\(object)").path)
                == file.sourceSHA256, "the delivered object stays")
        let again = await scanner.run(order(dryRun: false))
        #expect(again.report.hiddenCopies.isEmpty, "nothing more to remove")
    }
}
