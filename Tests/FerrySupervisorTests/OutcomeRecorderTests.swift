import FerryCore
import FerryStore
import Foundation
import Logging
import Testing

@testable import FerrySupervisor

/// Reports the store no longer wants, against a real store in a scratch folder.
@Suite("Recording outcomes")
struct OutcomeRecorderTests {
    @Test("A download cancelled just as its worker finished loses the file the worker had put in place")
    func cancelledAsItFinished() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-outcome-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteJobStore.open(
            StoreConfiguration(path: folder.appendingPathComponent("ferry.sqlite").path))
        try store.migrate()
        let worker = WorkerID("download-1.a")
        try await store.registerWorker(WorkerRecord(id: worker, role: .download, slot: 1, pid: 4242, startedAt: Date()))
        _ = try await store.enqueue(download: DownloadRequest(spec: DownloadSpec(url: "https://example.test/a.mp4")))
        let claimed = try #require(try await store.claimDueJobs(of: .download, for: worker, limit: 1).first)
        // The worker renamed its file into place and reported; the cancel was applied first.
        let file = folder.appendingPathComponent("downloads/\(claimed.job.id)/a.mp4")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("movie".utf8).write(to: file)
        _ = try await store.cancel(claimed.job.id, reason: "client gave up")
        let result = JobResult(location: file.path, size: 5, sha256: String(repeating: "ab", count: 32))
        let recorder = OutcomeRecorder(store: store, logger: Logger(label: "test"))
        let recording = await recorder.record(
            WorkerMessage.Outcome(lease: claimed.lease, result: .succeeded(result)), from: worker)
        #expect(recording == .applied)
        #expect(!FileManager.default.fileExists(atPath: file.path), "no record will ever point at it")
        #expect(!FileManager.default.fileExists(atPath: file.deletingLastPathComponent().path))
    }
}
