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
        let recorder = OutcomeRecorder(
            store: store, logger: Logger(label: "test"),
            downloadsFolder: folder.appendingPathComponent("downloads").path)
        let recording = await recorder.record(
            WorkerMessage.Outcome(lease: claimed.lease, result: .succeeded(result)), from: worker)
        #expect(recording == .applied)
        #expect(!FileManager.default.fileExists(atPath: file.path), "no record will ever point at it")
        #expect(!FileManager.default.fileExists(atPath: file.deletingLastPathComponent().path))
    }

    /// A store with one running download, its folder, and a recorder over both.
    struct Fixture {
        let folder: URL
        let store: SQLiteJobStore
        let worker = WorkerID("download-1.a")
        let claimed: ClaimedJob
        let recorder: OutcomeRecorder

        init(maxAttempts: Int = 3) async throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-outcome-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            store = try SQLiteJobStore.open(
                StoreConfiguration(path: folder.appendingPathComponent("ferry.sqlite").path))
            try store.migrate()
            try await store.registerWorker(
                WorkerRecord(id: worker, role: .download, slot: 1, pid: 4242, startedAt: Date()))
            _ = try await store.enqueue(
                download: DownloadRequest(
                    spec: DownloadSpec(url: "https://example.test/a.mp4"), maxAttempts: maxAttempts))
            claimed = try #require(try await store.claimDueJobs(of: .download, for: worker, limit: 1).first)
            recorder = OutcomeRecorder(
                store: store, logger: Logger(label: "test"),
                downloadsFolder: folder.appendingPathComponent("downloads").path)
        }

        /// A file an attempt published at the job's final path.
        func published(_ name: String) throws -> URL {
            let file = folder.appendingPathComponent("downloads/\(claimed.job.id)/\(name)")
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("movie".utf8).write(to: file)
            return file
        }

        func remove() { try? FileManager.default.removeItem(at: folder) }
    }

    @Test("A download cancelled after its worker published the file but reported a stop loses the file")
    func cancelledThenStopped() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let file = try fixture.published("a.mp4")
        _ = try await fixture.store.cancel(fixture.claimed.job.id, reason: "client gave up")
        let recording = await fixture.recorder.record(
            WorkerMessage.Outcome(lease: fixture.claimed.lease, result: .stopped(resumeState: nil)),
            from: fixture.worker)
        #expect(recording == .applied)
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }

    @Test("A download that fails for good loses what an earlier attempt had published")
    func failedForGood() async throws {
        let fixture = try await Fixture(maxAttempts: 1)
        defer { fixture.remove() }
        let file = try fixture.published("a.mp4")
        await fixture.recorder.record(
            WorkerMessage.Outcome(
                lease: fixture.claimed.lease, result: .failed(.permanent("checksum_mismatch", "other content"))),
            from: fixture.worker)
        #expect(try await fixture.store.job(fixture.claimed.job.id).state == .failed)
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }

    @Test("Files of a job whose folder an attempt holds (its lock) are left to that attempt")
    func lockedFolderIsLeftAlone() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let file = try fixture.published("a.mp4")
        let descriptor = open(file.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        defer { close(descriptor) }
        #expect(flock(descriptor, LOCK_EX) == 0)
        _ = try await fixture.store.cancel(fixture.claimed.job.id, reason: "client gave up")
        await fixture.recorder.record(
            WorkerMessage.Outcome(lease: fixture.claimed.lease, result: .stopped(resumeState: nil)),
            from: fixture.worker)
        #expect(FileManager.default.fileExists(atPath: file.path), "a retry at work there owns the folder")
    }
}
