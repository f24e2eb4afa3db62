import FerryCore
import Foundation
import Testing

@testable import FerryStore

/// What a cleanup run removes for good (retention, abandoned multipart uploads) and what it
/// adopts, on both stores (one node here: every file is on it).
@Suite("Retention, abandoned uploads and adoption")
struct RetentionAndAdoptionTests {
    static let ninetyDays: Double = 90 * 86_400

    @Test(
        "Retention deletes old finished records with their events and keeps live, recent and permanent ones",
        arguments: StoreBackend.allCases)
    func retention(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let store = fixture.store
        let downloader = try await fixture.worker("download-1.a")
        let storer = try await fixture.worker("store-1.a", role: .store)
        // Old: a cancelled download, a succeeded one with its file, one whose upload still waits,
        // a failed and a stored video.
        let cancelled = try await store.enqueue(
            download: DownloadRequest(spec: DownloadSpec(url: "https://example.test/c"))
        ).job.id
        _ = try await store.cancel(cancelled, reason: "not wanted")
        let withFile = try await fixture.succeededDownload(owner: downloader)
        let waitingUpload = try await fixture.succeededDownload(targets: ["archive"], owner: downloader)
        let failedVideo = try await video("gone", storer: storer, fixture: fixture, succeed: false)
        let storedVideo = try await video("kept", storer: storer, fixture: fixture, succeed: true)
        fixture.clock.advance(by: Self.ninetyDays + 60)
        // Recent: cancelled just now.
        let recent = try await store.enqueue(
            download: DownloadRequest(spec: DownloadSpec(url: "https://example.test/r"))
        )
        .job.id
        _ = try await store.cancel(recent, reason: "not wanted either")
        let cutoff = fixture.clock.now.addingTimeInterval(-Self.ninetyDays)

        let dry = try await store.expireFinished(before: cutoff, keepRecordsWithFiles: true, dryRun: true)
        #expect(dry.records == 2 && dry.files.isEmpty, "\(dry)")
        #expect(try await store.job(cancelled).state == .cancelled, "a dry run deletes nothing")

        let kept = try await store.expireFinished(before: cutoff, keepRecordsWithFiles: true, dryRun: false)
        #expect(kept.records == 2 && kept.files.isEmpty, "\(kept)")
        for gone in [cancelled, failedVideo] {
            await expectStoreError(.notFound) { try await store.job(gone) }
            let events = try await store.events(after: 0, limit: 100_000).filter { $0.jobID == gone }
            #expect(events.isEmpty, "events leave with their job")
        }
        for stays in [withFile.id, waitingUpload.id, storedVideo, recent] {
            _ = try await store.job(stays)
        }
        #expect(try await store.uploads(of: waitingUpload.id).count == 1)

        let withFiles = try await store.expireFinished(before: cutoff, keepRecordsWithFiles: false, dryRun: false)
        #expect(withFiles.records == 1 && withFiles.files == [withFile.result?.location], "\(withFiles)")
        await expectStoreError(.notFound) { try await store.job(withFile.id) }
        _ = try await store.job(waitingUpload.id)
        _ = try await store.job(storedVideo)
    }

    @Test("Retention works through more records than one batch", arguments: StoreBackend.allCases)
    func retentionInBatches(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let requests = (0..<25).map { DownloadRequest(spec: DownloadSpec(url: "https://example.test/\($0)")) }
        for enqueued in try await fixture.store.enqueue(downloads: requests) {
            _ = try await fixture.store.cancel(enqueued.job.id, reason: "test")
        }
        fixture.clock.advance(by: 10)
        let expired = try await fixture.store.expireFinished(
            before: fixture.clock.now, keepRecordsWithFiles: true, dryRun: false, batchSize: 7)
        #expect(expired.records == 25)
        #expect(try await fixture.store.queueCounts().isEmpty)
    }

    @Test(
        "A failed upload's abandoned multipart upload is listed until it is forgotten", arguments: StoreBackend.allCases
    )
    func abandonedUploads(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let downloader = try await fixture.worker("download-1.a")
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let download = try await fixture.succeededDownload(targets: ["s3"], owner: downloader)
        let upload = try #require(try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 1).first)
        let resume = #"{"key":"k","uploadID":"up-1","partSize":5242880,"parts":[]}"#
        _ = try await fixture.store.fail(
            upload.lease, with: .permanent("target_rejected", "no"), resumeState: resume)
        let listed = try await fixture.store.abandonedUploads()
        #expect(listed.map(\.job) == [upload.job.id] && listed.first?.target == "s3")
        #expect(listed.first?.resumeState == resume)
        // Another upload id (a retry began a new one) is not forgotten by mistake.
        try await fixture.store.forgetAbandonedUpload(upload.job.id, uploadID: "up-2")
        #expect(try await fixture.store.abandonedUploads().count == 1)
        try await fixture.store.forgetAbandonedUpload(upload.job.id, uploadID: "up-1")
        #expect(try await fixture.store.abandonedUploads().isEmpty)
        #expect(try await fixture.store.uploads(of: download.id).first?.state == .failed)
    }

    @Test(
        "Deliveries to the named targets since a time are listed with their locations; others are not",
        arguments: StoreBackend.allCases)
    func recentDeliveries(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let downloader = try await fixture.worker("download-1.a")
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let started = Int64(fixture.clock.now.timeIntervalSince1970 * 1000)
        var delivered: [String: JobID] = [:]
        for target in ["drive", "s3"] {
            _ = try await fixture.succeededDownload(targets: [target], owner: downloader)
            let upload = try #require(try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 1).first)
            _ = try await fixture.store.complete(
                JobCompletion(
                    lease: upload.lease,
                    result: JobResult(location: "\(target):x/f", size: 1, sha256: String(repeating: "0", count: 64))))
            delivered[target] = upload.job.id
        }
        let listed = try await fixture.store.deliveries(to: ["drive"], since: started)
        #expect(listed.map(\.job) == [try #require(delivered["drive"])])
        #expect(listed.first?.location == "drive:x/f" && listed.first?.target == "drive")
        #expect(try await fixture.store.deliveries(to: ["drive", "s3"], since: started).count == 2)
        #expect(try await fixture.store.deliveries(to: ["drive"], since: started + 1).isEmpty, "none since then")
        #expect(try await fixture.store.deliveries(to: [], since: 0).isEmpty)
    }

    @Test(
        "An adopted file becomes a succeeded download in its own folder, which is never refetched",
        arguments: StoreBackend.allCases)
    func adoption(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let downloads = fixture.folder.appendingPathComponent("downloads").path
        try FileManager.default.createDirectory(atPath: downloads + "/999", withIntermediateDirectories: true)
        let stray = downloads + "/999/stray.bin"
        try Data("found".utf8).write(to: URL(fileURLWithPath: stray))
        let adopted = try await fixture.store.adopt(
            file: stray, size: 5, sha256: StoreFixture.sha, downloadsFolder: downloads)
        #expect(adopted.location == "\(downloads)/\(adopted.job)/stray.bin")
        #expect(!FileManager.default.fileExists(atPath: stray))
        #expect(try Data(contentsOf: URL(fileURLWithPath: adopted.location)) == Data("found".utf8))
        let job = try await fixture.store.job(adopted.job)
        #expect(job.state == .succeeded && job.result?.location == adopted.location && job.result?.size == 5)
        #expect(try await fixture.store.events(of: adopted.job).map(\.cause) == ["create", "adopt"])
        guard case .download(let spec) = try await fixture.store.payload(of: adopted.job) else {
            Issue.record("not a download")
            return
        }
        #expect(spec.url == URL(fileURLWithPath: stray).absoluteString && spec.fileName == "stray.bin")
        await expectStoreError(.conflict) { try await fixture.store.refetch(adopted.job, reason: "missing") }
    }

    @Test(
        "A download whose file left on purpose after delivery is not refetched (the scan may have raced the clean-up)",
        arguments: StoreBackend.allCases)
    func deliveredIsNotRefetched(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let downloader = try await fixture.worker("download-1.a")
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let download = try await fixture.succeededDownload(targets: ["archive"], owner: downloader)
        let upload = try #require(try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 1).first)
        _ = try await fixture.store.complete(
            JobCompletion(
                lease: upload.lease, result: JobResult(location: "s3://b/k", size: 1024, sha256: StoreFixture.sha)))
        _ = try await fixture.store.markCleaned(upload.job.id, reason: "source removed after delivery")
        let refused = await expectStoreError(.conflict) {
            try await fixture.store.refetch(download.id, reason: "cleanup found its file missing")
        }
        #expect(refused?.message.contains("delivered") == true)
        #expect(try await fixture.store.job(download.id).state == .succeeded)
    }

    @Test("An adoption that cannot be recorded leaves the file where it was", arguments: StoreBackend.allCases)
    func adoptionRollsBack(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let downloads = fixture.folder.appendingPathComponent("downloads").path
        try FileManager.default.createDirectory(atPath: downloads, withIntermediateDirectories: true)
        let stray = downloads + "/loose.bin"
        try Data("x".utf8).write(to: URL(fileURLWithPath: stray))
        // A hash the schema refuses makes the transaction fail after the move.
        await expectStoreError(.invalidInput) {
            try await fixture.store.adopt(file: stray, size: 1, sha256: "not a hash", downloadsFolder: downloads)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: stray)) == Data("x".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: downloads) == ["loose.bin"])
        #expect(try await fixture.store.queueCounts().isEmpty)
    }

    private func video(
        _ request: String, storer: WorkerID, fixture: EngineFixture, succeed: Bool
    ) async throws -> JobID {
        let spec = VideoSpec(userID: "u1", externalRequestID: request, sourceURL: "https://e.test/\(request).mp4")
        let id = try await fixture.store.enqueue(video: VideoRequest(spec: spec, maxAttempts: 1)).job.id
        let claimed = try #require(try await fixture.store.claimDueJobs(of: .video, for: storer, limit: 1).first)
        #expect(claimed.job.id == id)
        if succeed {
            _ = try await fixture.store.complete(
                JobCompletion(
                    lease: claimed.lease,
                    result: JobResult(location: "videos/\(request)", size: 10, sha256: StoreFixture.sha)))
        } else {
            _ = try await fixture.store.fail(claimed.lease, with: .permanent("not_a_video", "no"), resumeState: nil)
        }
        return id
    }
}
