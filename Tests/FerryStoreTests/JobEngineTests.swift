import FerryCore
import Foundation
import Testing

@testable import FerryStore

/// The job engine through its public interface, on both stores: a real SQLite file and a real
/// PostgreSQL server.
@Suite("The job engine")
struct JobEngineTests {
    /// Short, deterministic policies: 3 attempts, waits of at most 10 s, 60 s, …
    static let policies = RetryPolicies(
        download: RetryPolicy(maxAttempts: 3, initialDelay: .seconds(10), maxDelay: .seconds(100)),
        upload: RetryPolicy(maxAttempts: 3, initialDelay: .seconds(10), maxDelay: .seconds(100)),
        video: RetryPolicy(maxAttempts: 3, initialDelay: .seconds(10), maxDelay: .seconds(100), jitter: .equal))

    func download(_ name: String, key: String? = nil, priority: Int = 0) -> DownloadRequest {
        DownloadRequest(spec: DownloadSpec(url: "https://e.test/\(name)"), idempotencyKey: key, priority: priority)
    }

    @Test("Enqueue creates a queued job with its payload and a creation event", arguments: StoreBackend.allCases)
    func enqueue(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let spec = DownloadSpec(
            url: "https://e.test/a.mp4", fileName: "a.mp4", expectedSize: 10, expectedSHA256: StoreFixture.sha,
            uploadTargets: ["s3", "ftp"], deleteAfterUpload: true)
        let enqueued = try await fixture.store.enqueue(download: DownloadRequest(spec: spec, priority: 5))
        #expect(enqueued.created)
        #expect(enqueued.job.state == .queued && enqueued.job.attempt == 0 && enqueued.job.priority == 5)
        #expect(enqueued.job.maxAttempts == RetryPolicies.standard.download.maxAttempts)
        #expect(try await fixture.store.payload(of: enqueued.job.id) == .download(spec))
        let events = try await fixture.store.events(of: enqueued.job.id)
        #expect(events.count == 1 && events[0].from == nil && events[0].to == .queued && events[0].cause == "create")
    }

    @Test(
        "A download's engine is kept: its payload, a batch's and what a worker claims ask aria2 as the request did (it used to be dropped, so a .torrent URL was fetched as a plain file)",
        arguments: StoreBackend.allCases)
    func engineIsKept(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let torrent = DownloadSpec(url: "https://e.test/show.torrent", engine: .aria2)
        let one = try await fixture.store.enqueue(download: DownloadRequest(spec: torrent, idempotencyKey: "t"))
        #expect(try await fixture.store.payload(of: one.job.id) == .download(torrent))
        // The same request again is the same request, not a conflicting one.
        #expect(
            try await fixture.store.enqueue(download: DownloadRequest(spec: torrent, idempotencyKey: "t")).created
                == false)
        let ferry = DownloadSpec(url: "https://e.test/b", engine: .ferry)
        let batch = try await fixture.store.enqueue(downloads: [
            DownloadRequest(spec: ferry), DownloadRequest(spec: torrent),
        ])
        #expect(try await fixture.store.payload(of: batch[0].job.id) == .download(ferry))
        let claimed = try await fixture.store.claimDueJobs(
            of: .download, for: try await fixture.worker("w"), limit: 10)
        var engines: Set<DownloadEngine> = []
        for job in claimed {
            if case .download(let spec) = job.payload, let engine = spec.engine { engines.insert(engine) }
        }
        #expect(engines == [.aria2, .ferry])
    }

    @Test("Invalid requests are refused before anything is written", arguments: StoreBackend.allCases)
    func invalidRequests(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        await expectStoreError(.invalidInput) {
            try await fixture.store.enqueue(
                download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/a", uploadTargets: ["s3", "s3"])))
        }
        await expectStoreError(.invalidInput) {
            try await fixture.store.enqueue(
                download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/a"), maxAttempts: 0))
        }
        await expectStoreError(.invalidInput) {
            try await fixture.store.enqueue(
                downloads: [
                    download("fine"), DownloadRequest(spec: DownloadSpec(url: "https://e.test/b", fileName: "../x")),
                ])
        }
        #expect(try await fixture.store.jobs(matching: JobQuery()).isEmpty, "a refused batch writes nothing")
    }

    @Test(
        "The same idempotency key returns the same job; a cancelled job frees its key", arguments: StoreBackend.allCases
    )
    func idempotentEnqueue(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let first = try await fixture.store.enqueue(download: download("a", key: "order-1"))
        let again = try await fixture.store.enqueue(download: download("a", key: "order-1"))
        #expect(first.created && !again.created)
        #expect(again.job.id == first.job.id)
        _ = try await fixture.store.cancel(first.job.id, reason: "client gave up")
        let fresh = try await fixture.store.enqueue(download: download("a", key: "order-1"))
        #expect(fresh.created && fresh.job.id != first.job.id)
    }

    @Test("50 concurrent callers with one key create exactly one job", arguments: StoreBackend.allCases)
    func idempotentEnqueueUnderConcurrency(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let store = fixture.store
        let results = try await withThrowingTaskGroup(of: Enqueued.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try await store.enqueue(
                        download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/x"), idempotencyKey: "same"))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results.map(\.job.id)).count == 1)
        #expect(results.filter(\.created).count == 1)
        #expect(try await store.jobs(matching: JobQuery(kind: .download)).count == 1)
    }

    @Test(
        "Claims take due jobs by priority, then due time; each claim counts an attempt",
        arguments: StoreBackend.allCases)
    func claimOrder(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let owner = try await fixture.worker("download-1.a")
        let low = try await fixture.store.enqueue(download: download("low")).job
        fixture.clock.advance(by: 1)
        let high = try await fixture.store.enqueue(download: download("high", priority: 10)).job
        let later = try await fixture.store.enqueue(download: download("later")).job
        let first = try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 2)
        #expect(first.map(\.job.id) == [high.id, low.id])
        #expect(first.allSatisfy { $0.job.state == .running && $0.job.attempt == 1 && $0.job.owner == owner })
        #expect(first.first?.payload == .download(DownloadSpec(url: "https://e.test/high")))
        let rest = try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 10)
        #expect(rest.map(\.job.id) == [later.id])
        #expect(try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 10).isEmpty)
        #expect(try await fixture.store.claimDueJobs(of: .upload, for: owner, limit: 10).isEmpty)
    }

    @Test(
        "Progress is recorded under a valid lease; a lost lease is reported, not applied",
        arguments: StoreBackend.allCases)
    func progress(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let owner = try await fixture.worker("download-1.a")
        let claimed = try await fixture.runningDownload(owner: owner)
        fixture.clock.advance(by: 5)
        let stale = JobLease(jobID: claimed.job.id, owner: WorkerID("download-1.old"), attempt: 1)
        let lost = try await fixture.store.recordProgress([
            ProgressReport(
                lease: claimed.lease, progress: JobProgress(bytesDone: 500, bytesTotal: 1000),
                resumeState: "{\"offset\":500}"),
            ProgressReport(lease: stale, progress: JobProgress(bytesDone: 999)),
        ])
        #expect(lost == [stale])
        let job = try await fixture.store.job(claimed.job.id)
        #expect(job.progress == JobProgress(bytesDone: 500, bytesTotal: 1000))
        #expect(job.resumeState == "{\"offset\":500}")
        #expect(job.heartbeatAt == fixture.clock.now)
    }

    @Test("A finished download creates one upload per target in the same transaction", arguments: StoreBackend.allCases)
    func completeCreatesUploads(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let owner = try await fixture.worker("download-1.a")
        let done = try await fixture.succeededDownload(targets: ["s3", "ftp"], owner: owner)
        #expect(done.state == .succeeded && done.owner == nil && done.finishedAt == fixture.clock.now)
        #expect(done.result == StoreFixture.result(for: done.id))
        let uploads = try await fixture.store.uploads(of: done.id)
        #expect(uploads.count == 2 && uploads.allSatisfy { $0.state == .queued && $0.kind == .upload })
        var targets: [String] = []
        for upload in uploads {
            guard case .upload(let spec) = try await fixture.store.payload(of: upload.id) else {
                Issue.record("upload \(upload.id) has no upload payload")
                continue
            }
            #expect(spec.downloadID == done.id && spec.sourcePath == done.result?.location)
            #expect(spec.sourceSHA256 == StoreFixture.sha && spec.sourceSize == 1024)
            targets.append(spec.target)
        }
        #expect(Set(targets) == ["s3", "ftp"])
    }

    @Test(
        "An upload waits while its download is fetched again (its file had gone): not claimed, not failed by the pending scan; it runs on the new file",
        arguments: StoreBackend.allCases)
    func uploadWaitsForRefetch(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let store = fixture.store
        let owner = try await fixture.worker("download-1.a")
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let done = try await fixture.succeededDownload(targets: ["s3"], owner: owner)
        let upload = try #require(try await store.uploads(of: done.id).first)
        _ = try await store.refetch(done.id, reason: "its file is missing")

        #expect(try await store.kindsWithDueWork(among: [.upload]).isEmpty)
        #expect(try await store.earliestDue(among: [.upload])[.upload] == nil)
        #expect(try await store.claimDueJobs(of: .upload, for: uploader, limit: 1).isEmpty)
        fixture.clock.advance(by: 3600)
        let pending = try await store.queuedUploadSources(olderThan: .seconds(60), limit: 100)
        #expect(!pending.map(\.upload).contains(upload.id), "the pending scan would fail it: \(pending)")

        let again = try #require(try await store.claimDueJobs(of: .download, for: owner, limit: 1).first)
        #expect(again.job.id == done.id)
        _ = try await store.complete(JobCompletion(lease: again.lease, result: StoreFixture.result(for: done.id)))
        let claimed = try await store.claimDueJobs(of: .upload, for: uploader, limit: 1)
        #expect(claimed.map(\.job.id) == [upload.id], "the upload runs once the new file is there")
        #expect(try await store.uploads(of: done.id).count == 1, "the refetch made no second upload")
    }

    @Test("An outcome under a lost lease is refused and changes nothing", arguments: StoreBackend.allCases)
    func staleOutcome(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let owner = try await fixture.worker("download-1.a")
        let claimed = try await fixture.runningDownload(owner: owner)
        _ = try await fixture.store.requeueJobs(ownedBy: owner, reason: "worker hung")
        await expectStoreError(.leaseLost) {
            try await fixture.store.complete(
                JobCompletion(lease: claimed.lease, result: StoreFixture.result(for: claimed.job.id)))
        }
        await expectStoreError(.leaseLost) {
            try await fixture.store.fail(claimed.lease, with: .permanent("http_404", "gone"))
        }
        #expect(try await fixture.store.job(claimed.job.id).state == .queued)
    }

    @Test(
        "A retryable failure schedules a retry within the backoff ceiling; the last attempt fails the job",
        arguments: StoreBackend.allCases)
    func retryableFailures(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend, policies: Self.policies)
        let owner = try await fixture.worker("download-1.a")
        var claimed = try await fixture.runningDownload(owner: owner)
        for attempt in 1...3 {
            let now = fixture.clock.now
            let outcome = try await fixture.store.fail(claimed.lease, with: .retryable("http_503", "busy"))
            if attempt < 3 {
                guard case .retryScheduled(let job) = outcome else {
                    Issue.record("attempt \(attempt): expected a retry, got \(outcome)")
                    return
                }
                let ceiling = Self.policies.download.ceiling(afterAttempt: attempt).inSeconds
                #expect(job.state == .queued && job.owner == nil)
                #expect(job.dueAt >= now && job.dueAt <= now.addingTimeInterval(ceiling))
                #expect(job.lastError?.code == "http_503")
                // Not claimable before its due time.
                if job.dueAt > now {
                    #expect(try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 1).isEmpty)
                }
                fixture.clock.advance(by: ceiling)
                claimed = try #require(try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 1).first)
                #expect(claimed.job.attempt == attempt + 1)
            } else {
                guard case .failed(let job) = outcome else {
                    Issue.record("expected the last attempt to fail the job, got \(outcome)")
                    return
                }
                #expect(job.state == .failed && job.lastError?.code == "http_503" && job.finishedAt != nil)
                #expect(job.stateReason?.contains("all 3 attempts failed") == true)
            }
        }
        let causes = try await fixture.store.events(of: claimed.job.id).map(\.cause)
        #expect(
            causes == ["create", "claim", "schedule_retry", "claim", "schedule_retry", "claim", "fail"])
    }

    @Test("A server's Retry-After is honoured, up to the policy's limit", arguments: StoreBackend.allCases)
    func retryAfter(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend, policies: Self.policies)
        let owner = try await fixture.worker("download-1.a")
        let claimed = try await fixture.runningDownload(owner: owner)
        let now = fixture.clock.now
        let job = try await fixture.store.fail(
            claimed.lease, with: .retryable("http_429", "slow down", retryAfter: .seconds(120))
        ).job
        #expect(job.dueAt == now.addingTimeInterval(120))
    }

    @Test("A permanent failure ends the job at once with its error", arguments: StoreBackend.allCases)
    func permanentFailure(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let owner = try await fixture.worker("download-1.a")
        let claimed = try await fixture.runningDownload(owner: owner)
        let outcome = try await fixture.store.fail(claimed.lease, with: .permanent("http_404", "not found"))
        guard case .failed(let job) = outcome else {
            Issue.record("expected failed, got \(outcome)")
            return
        }
        #expect(job.lastError == .permanent("http_404", "not found"))
        #expect(job.attempt == 1)
    }

    @Test(
        "Pause, resume and cancel follow the lifecycle; an illegal command is a typed error and changes nothing",
        arguments: StoreBackend.allCases)
    func operatorControl(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let owner = try await fixture.worker("download-1.a")
        let id = try await fixture.store.enqueue(download: download("a")).job.id
        #expect(try await fixture.store.pause(id, reason: "operator").state == .paused)
        #expect(try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 1).isEmpty, "paused is not due")
        await expectStoreError(.illegalTransition) { try await fixture.store.pause(id, reason: "twice") }
        #expect(try await fixture.store.resume(id, reason: "operator").state == .queued)
        let running = try await fixture.runningDownload(owner: owner).job
        let cancelled = try await fixture.store.cancel(running.id, reason: "client")
        #expect(cancelled.state == .cancelled && cancelled.owner == nil && cancelled.finishedAt != nil)
        let before = try await fixture.store.events(of: running.id)
        let error = await expectStoreError(.illegalTransition) {
            try await fixture.store.markCleaned(running.id, reason: "not an upload")
        }
        #expect(error?.message.contains("not allowed for a download job that is cancelled") == true)
        #expect(try await fixture.store.events(of: running.id) == before, "a refused command logs nothing")
        await expectStoreError(.notFound) { try await fixture.store.cancel(JobID(987_654), reason: "x") }
    }

    @Test("A manual retry reopens a failed job with a fresh set of attempts", arguments: StoreBackend.allCases)
    func manualRetry(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend, policies: Self.policies)
        let owner = try await fixture.worker("download-1.a")
        let claimed = try await fixture.runningDownload(owner: owner)
        _ = try await fixture.store.fail(claimed.lease, with: .permanent("http_404", "gone"))
        let reopened = try await fixture.store.retry(claimed.job.id, reason: "operator fixed the URL")
        #expect(reopened.state == .queued && reopened.finishedAt == nil)
        #expect(reopened.maxAttempts == 1 + Self.policies.download.maxAttempts)
        let again = try #require(try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 1).first)
        #expect(again.job.attempt == 2)
    }

    @Test(
        "After a manual retry the backoff starts over: the new set's first delay is the policy's first",
        arguments: StoreBackend.allCases)
    func manualRetryRestartsBackoff(_ backend: StoreBackend) async throws {
        // No jitter, so each delay is exactly the ceiling: 10 s, 20 s, 40 s, … with 4 attempts.
        let download = RetryPolicy(
            maxAttempts: 4, initialDelay: .seconds(10), maxDelay: .seconds(3600), jitter: .none)
        let fixture = try await EngineFixture(
            backend, policies: RetryPolicies(download: download, upload: download, video: download))
        let owner = try await fixture.worker("download-1.a")
        var claimed = try await fixture.runningDownload(owner: owner)
        var delays: [Double] = []
        func failOnce() async throws -> FailureOutcome {
            let now = fixture.clock.now
            let outcome = try await fixture.store.fail(claimed.lease, with: .retryable("http_503", "busy"))
            if case .retryScheduled(let job) = outcome {
                delays.append(job.dueAt.timeIntervalSince(now))
                fixture.clock.advance(by: job.dueAt.timeIntervalSince(now))
                claimed = try #require(try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 1).first)
            }
            return outcome
        }
        for _ in 1...3 { _ = try await failOnce() }
        guard case .failed = try await failOnce() else {
            Issue.record("the fourth attempt should have failed the job")
            return
        }
        _ = try await fixture.store.retry(claimed.job.id, reason: "operator")
        claimed = try #require(try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 1).first)
        #expect(claimed.job.attempt == 5 && claimed.job.maxAttempts == 8)
        for _ in 1...2 { _ = try await failOnce() }
        #expect(delays == [10, 20, 40, 10, 20], "the second set's delays start at the first again")
        let retries = try await fixture.store.events(of: claimed.job.id).filter { $0.cause == "schedule_retry" }
        let reason = retries.last?.reason ?? ""
        #expect(reason.contains("attempt 6 of 8"), "the reason keeps counting every attempt: \(reason)")
    }

    @Test(
        "A dead owner's jobs go back to the queue at once, attempt counted; other owners' stay",
        arguments: StoreBackend.allCases)
    func requeueOnOwnerDeath(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let dead = try await fixture.worker("download-1.dead")
        let alive = try await fixture.worker("download-2.alive")
        let a = try await fixture.runningDownload(owner: dead).job
        let b = try await fixture.runningDownload(owner: dead).job
        let c = try await fixture.runningDownload(owner: alive).job
        let requeued = try await fixture.store.requeueJobs(ownedBy: dead, reason: "worker exited (signal 9)")
        #expect(requeued.map(\.job.id) == [a.id, b.id])
        #expect(requeued.allSatisfy { $0.previousOwner == dead && $0.job.state == .queued && $0.job.attempt == 1 })
        #expect(try await fixture.store.job(c.id).owner == alive)
        let event = try #require(try await fixture.store.events(of: a.id).last)
        #expect(event.cause == "requeue" && event.owner == dead && event.reason == "worker exited (signal 9)")
        // The replacement picks them up immediately.
        let replacement = try await fixture.worker("download-1.new")
        #expect(try await fixture.store.claimDueJobs(of: .download, for: replacement, limit: 5).count == 2)
    }

    @Test("A job whose owner dies on its last attempt ends failed with owner_lost", arguments: StoreBackend.allCases)
    func ownerLostOnLastAttempt(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let owner = try await fixture.worker("download-1.a")
        _ = try await fixture.store.enqueue(
            download: DownloadRequest(spec: DownloadSpec(url: "https://e.test/a"), maxAttempts: 1))
        let claimed = try #require(try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 1).first)
        let requeued = try await fixture.store.requeueJobs(ownedBy: owner, reason: "worker hung")
        #expect(requeued.first?.job.state == .failed)
        #expect(requeued.first?.job.lastError?.code == "owner_lost")
        #expect(try await fixture.store.job(claimed.job.id).state == .failed)
    }

    @Test("A job released on request keeps its attempt budget and its resume state", arguments: StoreBackend.allCases)
    func release(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let owner = try await fixture.worker("download-1.a")
        let claimed = try await fixture.runningDownload(owner: owner)
        let released = try await fixture.store.release(claimed.lease, reason: "drain", resumeState: "{\"offset\":7}")
        #expect(released.state == .queued && released.attempt == 1)
        #expect(released.maxAttempts == claimed.job.maxAttempts + 1, "the stopped attempt is given back")
        #expect(released.resumeState == "{\"offset\":7}")
    }

    @Test(
        "After a restart, every running job is requeued and every worker of the old run is marked exited",
        arguments: StoreBackend.allCases)
    func recoverAfterRestart(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let owner = try await fixture.worker("download-1.a")
        let running = try await fixture.runningDownload(owner: owner).job
        let recovered = try await fixture.store.recoverAfterRestart(reason: "supervisor restarted")
        #expect(recovered.map(\.job.id) == [running.id])
        let workers = try await fixture.store.workers(includeExited: true, limit: 10)
        #expect(workers.count == 1 && workers[0].exit?.reason == "supervisor_restart")
        #expect(try await fixture.store.workers(includeExited: false, limit: 10).isEmpty)
    }

    @Test("A delivered upload is marked cleaned once its source is gone", arguments: StoreBackend.allCases)
    func uploadLifecycle(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let downloader = try await fixture.worker("download-1.a")
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let done = try await fixture.succeededDownload(targets: ["s3"], owner: downloader)
        let upload = try #require(try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 1).first)
        #expect(try await fixture.store.uploads(of: done.id).map(\.id) == [upload.job.id])
        let delivered = try await fixture.store.complete(
            JobCompletion(
                lease: upload.lease,
                result: JobResult(location: "s3://bucket/a.mp4", size: 1024, sha256: StoreFixture.sha)))
        #expect(delivered.state == .succeeded)
        let cleaned = try await fixture.store.markCleaned(delivered.id, reason: "source removed")
        #expect(cleaned.state == .cleaned && cleaned.cleanedAt == fixture.clock.now)
    }

    @Test(
        "A download whose every upload succeeded but whose clean-up never ran is found, and only until it runs",
        arguments: StoreBackend.allCases)
    func deliveriesAwaitingCleanUp(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let downloader = try await fixture.worker("download-1.a")
        let uploader = try await fixture.worker("upload-1.a", role: .upload)
        let claimed = try await fixture.runningDownload(
            DownloadSpec(url: "https://example.test/a.mp4", uploadTargets: ["s3", "ftp"], deleteAfterUpload: true),
            owner: downloader)
        let download = try await fixture.store.complete(
            JobCompletion(lease: claimed.lease, result: StoreFixture.result(for: claimed.job.id)))
        let uploads = try await fixture.store.claimDueJobs(of: .upload, for: uploader, limit: 2)
        #expect(uploads.count == 2)
        _ = try await fixture.store.complete(
            JobCompletion(lease: uploads[0].lease, result: StoreFixture.result(for: uploads[0].job.id)))
        #expect(try await fixture.store.deliveriesAwaitingCleanUp().isEmpty, "one upload is still running")
        _ = try await fixture.store.complete(
            JobCompletion(lease: uploads[1].lease, result: StoreFixture.result(for: uploads[1].job.id)))
        // The supervisor dies here, before cleaning up: the next one finds the download.
        #expect(try await fixture.store.deliveriesAwaitingCleanUp() == [download.id])
        #expect(try await fixture.store.cleanUpAfterDeliveries(of: download.id) == download.result?.location)
        #expect(try await fixture.store.deliveriesAwaitingCleanUp().isEmpty)
    }

    @Test(
        "A video is named by user and request id, and moves temporary → storing → stored",
        arguments: StoreBackend.allCases)
    func videoLifecycle(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let storer = try await fixture.worker("store-1.a", role: .store)
        let spec = VideoSpec(
            userID: "u1", externalRequestID: "gen-9", sourceURL: "https://e.test/v.mp4", metadata: "{\"a\":1}")
        let first = try await fixture.store.enqueue(video: VideoRequest(spec: spec))
        let again = try await fixture.store.enqueue(video: VideoRequest(spec: spec))
        #expect(first.created && !again.created && again.job.id == first.job.id)
        #expect(first.job.state == .temporary)
        let claimed = try #require(try await fixture.store.claimDueJobs(of: .video, for: storer, limit: 1).first)
        #expect(claimed.job.state == .storing && claimed.payload == .video(spec))
        let stored = try await fixture.store.complete(
            JobCompletion(
                lease: claimed.lease,
                result: JobResult(
                    location: "videos/u1/gen-9.mp4", size: 10, sha256: StoreFixture.sha, contentType: "video/mp4")))
        #expect(stored.state == .stored && stored.result?.contentType == "video/mp4")
        await expectStoreError(.illegalTransition) { try await fixture.store.cancel(stored.id, reason: "no") }
    }

    @Test(
        "The earliest due time of each kind's waiting jobs, for an idle supervisor's sleep",
        arguments: StoreBackend.allCases)
    func earliestDue(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend, policies: Self.policies)
        #expect(try await fixture.store.earliestDue(among: [.download, .upload]).isEmpty)
        let owner = try await fixture.worker("w")
        let failing = try await fixture.runningDownload(owner: owner)
        _ = try await fixture.store.fail(
            failing.lease, with: JobFailure(code: "http_503", message: "busy", failureClass: .retryable))
        let retry = try await fixture.store.job(failing.job.id)
        #expect(try await fixture.store.earliestDue(among: [.download, .upload]) == [.download: retry.dueAt])
        _ = try await fixture.store.enqueue(download: download("now"))
        #expect(try await fixture.store.earliestDue(among: [.download]) == [.download: fixture.clock.now])
    }

    @Test(
        "Queue counts group jobs by kind and state; the unfinished counts are the same rows without the finished states",
        arguments: StoreBackend.allCases)
    func queueCounts(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let owner = try await fixture.worker("download-1.a")
        let ids = try await fixture.store.enqueue(downloads: [
            download("a"), download("b"), download("c"), download("d"),
        ])
        _ = try await fixture.store.cancel(ids[3].job.id, reason: "not wanted")
        _ = try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 1)
        let counts = try await fixture.store.queueCounts()
        let byState = Dictionary(
            uniqueKeysWithValues: counts.filter { $0.kind == .download }.map { ($0.state, $0.count) })
        #expect(byState[.queued] == 2 && byState[.running] == 1 && byState[.cancelled] == 1)
        let unfinished = try await fixture.store.unfinishedQueueCounts()
        #expect(unfinished == counts.filter { !$0.state.phase.isFinal })
        #expect(unfinished.first { $0.state == .queued }?.oldestCreatedAt == fixture.clock.now)
    }
}

@Suite("Cleanup run records")
struct CleanupRunRecordTests {
    @Test(
        "One cleanup run at a time: a second request gets the running one back; a finished run keeps its report",
        arguments: StoreBackend.allCases)
    func oneAtATime(_ backend: StoreBackend) async throws {
        let fixture = try await EngineFixture(backend)
        let (first, started) = try await fixture.store.beginCleanupRun(trigger: .request, dryRun: false)
        #expect(started)
        let (second, startedAgain) = try await fixture.store.beginCleanupRun(trigger: .schedule, dryRun: true)
        #expect(!startedAgain)
        #expect(second.id == first.id)
        var report = CleanupReport()
        report.stalePartials = ["/x/job-1-attempt-1.part"]
        let finished = try await fixture.store.finishCleanupRun(first.id, report: report)
        #expect(finished.state == .succeeded && finished.report == report && finished.finishedAt != nil)
        await #expect(throws: StoreError.self) {
            _ = try await fixture.store.finishCleanupRun(first.id, report: report)
        }
        let (third, startedThird) = try await fixture.store.beginCleanupRun(trigger: .request, dryRun: true)
        #expect(startedThird && third.id != first.id)
        try await fixture.store.abandonCleanupRuns(reason: "stopped")
        #expect(try await fixture.store.lastCleanupRun()?.state == .failed)
    }
}
