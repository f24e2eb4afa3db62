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
        let file = try source(size: 300_000)
        let (store, downloadID, upload) = try await UploadRecordsFixture.claimedUpload(
            in: folder, of: file, to: "drive")
        var spec = file
        spec.downloadID = downloadID
        let result = try await self.upload(executor(remote: remote), spec).get()
        _ = try await store.complete(JobCompletion(lease: upload.lease, result: result))

        // The late request lands: the hidden copy is back beside the delivered object.
        let object = "\(downloadID.rawValue)/movie.bin"
        let hidden = folder.appendingPathComponent("remote/\(downloadID.rawValue)/.movie.bin.ferry-partial")
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
        let expected = ["drive:\(downloadID.rawValue)/.movie.bin.ferry-partial"]
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
