import FerryCore
import Foundation
import GRDB
import Testing

@testable import FerryStore

/// Raw SQL that breaks an invariant is refused by the database itself, whoever sends it.
@Suite("The schema refuses inconsistent rows")
struct SchemaInvariantTests {
    /// A valid queued download job row; tests vary one thing at a time.
    static let queuedDownload = """
        INSERT INTO jobs (kind, state, max_attempts, created_at, updated_at, due_at, state_cause)
        VALUES ('download', 'queued', 3, 1, 1, 1, 'create')
        """

    @Test("A valid row is accepted, and its creation is logged by the database")
    func validRowAccepted() async throws {
        let fixture = try StoreFixture()
        try await fixture.execute(Self.queuedDownload)
        let events = try fixture.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT from_state, to_state, cause FROM job_events")
        }
        #expect(events.count == 1)
        #expect(events.first?["to_state"] == "queued")
        #expect(events.first?["cause"] == "create")
    }

    @Test("A new job must start in its kind's initial state")
    func insertMustBeInitial() async throws {
        let fixture = try StoreFixture()
        let owner = try await fixture.worker("download-1.a")
        await fixture.expectRefused(
            """
            INSERT INTO jobs (kind, state, attempt, max_attempts, owner, created_at, updated_at, due_at, started_at, state_cause)
            VALUES ('download', 'running', 1, 3, ?, 1, 1, 1, 1, 'claim')
            """, [owner.rawValue], mentioning: "initial state")
        await fixture.expectRefused(
            """
            INSERT INTO jobs (kind, state, max_attempts, created_at, updated_at, due_at, state_cause)
            VALUES ('download', 'queued', 3, 1, 1, 1, 'claim')
            """, mentioning: "initial state")
    }

    @Test(
        "A state foreign to the job's kind is refused",
        arguments: [("video", "queued"), ("download", "temporary"), ("download", "cleaned"), ("upload", "bogus")])
    func stateForeignToKind(kind: String, state: String) async throws {
        let fixture = try StoreFixture()
        await fixture.expectRefused(
            """
            INSERT INTO jobs (kind, state, max_attempts, created_at, updated_at, due_at, state_cause)
            VALUES (?, ?, 3, 1, 1, 1, 'create')
            """, [kind, state], mentioning: "CHECK constraint failed")
    }

    @Test(
        "Each state carries exactly its columns: running without owner, succeeded without result, failed without error")
    func stateColumns() async throws {
        let fixture = try StoreFixture()
        let owner = try await fixture.worker("download-1.a")
        let queued = try await fixture.store.enqueue(download: DownloadRequest(spec: .init(url: "https://e.test/q")))
            .job
        await fixture.expectRefused(
            "UPDATE jobs SET state = 'running', state_cause = 'claim', attempt = 1, started_at = 2 WHERE id = ?",
            [queued.id.rawValue], mentioning: "CHECK constraint failed")
        let running = try await fixture.runningDownload(owner: owner).job
        await fixture.expectRefused(
            "UPDATE jobs SET state = 'succeeded', state_cause = 'complete', owner = NULL, finished_at = 3 WHERE id = ?",
            [running.id.rawValue], mentioning: "CHECK constraint failed")
        await fixture.expectRefused(
            "UPDATE jobs SET state = 'failed', state_cause = 'fail', owner = NULL, finished_at = 3 WHERE id = ?",
            [running.id.rawValue], mentioning: "CHECK constraint failed")
        // Half a result is no result.
        await fixture.expectRefused(
            "UPDATE jobs SET result_location = '/x' WHERE id = ?", [running.id.rawValue],
            mentioning: "CHECK constraint failed")
        // The job is still running, untouched.
        #expect(try await fixture.store.job(running.id).state == .running)
    }

    @Test("A move not in the lifecycle, or made by the wrong command, is refused and leaves no event")
    func illegalTransitions() async throws {
        let fixture = try StoreFixture()
        let queued = try await fixture.store.enqueue(download: DownloadRequest(spec: .init(url: "https://e.test/q")))
            .job
        await fixture.expectRefused(
            """
            UPDATE jobs SET state = 'succeeded', state_cause = 'complete', finished_at = 2,
                result_location = '/x', result_size = 1, result_sha256 = ? WHERE id = ?
            """, [StoreFixture.sha, queued.id.rawValue], mentioning: "illegal job transition")
        await fixture.expectRefused(
            "UPDATE jobs SET state = 'paused', state_cause = 'cancel' WHERE id = ?", [queued.id.rawValue],
            mentioning: "illegal job transition")
        #expect(try await fixture.store.events(of: queued.id).map(\.cause) == ["create"])
    }

    @Test("A job never changes its kind")
    func kindIsFixed() async throws {
        let fixture = try StoreFixture()
        let queued = try await fixture.store.enqueue(download: DownloadRequest(spec: .init(url: "https://e.test/q")))
            .job
        await fixture.expectRefused(
            "UPDATE jobs SET kind = 'upload' WHERE id = ?", [queued.id.rawValue], mentioning: "never changes its kind")
    }

    @Test("One live job per idempotency key; a failed or cancelled job frees its key")
    func oneLiveJobPerKey() async throws {
        let fixture = try StoreFixture()
        let keyed = """
            INSERT INTO jobs (kind, state, idempotency_key, max_attempts, created_at, updated_at, due_at, state_cause)
            VALUES ('download', 'queued', 'k-1', 3, 1, 1, 1, 'create')
            """
        try await fixture.execute(keyed)
        await fixture.expectRefused(keyed, mentioning: "UNIQUE constraint failed: jobs.kind, jobs.idempotency_key")
        try await fixture.execute(
            "UPDATE jobs SET state = 'cancelled', state_cause = 'cancel', finished_at = 2 WHERE idempotency_key = 'k-1'"
        )
        try await fixture.execute(keyed)
    }

    @Test("A detail row belongs to a job of its own kind")
    func detailRowKind() async throws {
        let fixture = try StoreFixture()
        let video = try await fixture.store.enqueue(
            video: VideoRequest(spec: .init(userID: "u1", externalRequestID: "r1", sourceURL: "https://e.test/v"))
        ).job
        await fixture.expectRefused(
            "INSERT INTO downloads (job_id, url) VALUES (?, 'https://e.test/x')", [video.id.rawValue],
            mentioning: "FOREIGN KEY constraint failed")
        await fixture.expectRefused(
            "INSERT INTO videos (job_id, user_id, external_request_id, source_url) VALUES (9999, 'u', 'r', 'https://e.test/v')",
            mentioning: "FOREIGN KEY constraint failed")
    }

    @Test("A video is unique per user and external request id")
    func videoNaturalKey() async throws {
        let fixture = try StoreFixture()
        _ = try await fixture.store.enqueue(
            video: VideoRequest(spec: .init(userID: "u1", externalRequestID: "r1", sourceURL: "https://e.test/v")))
        try await fixture.execute(
            """
            INSERT INTO jobs (kind, state, max_attempts, created_at, updated_at, due_at, state_cause)
            VALUES ('video', 'temporary', 3, 1, 1, 1, 'create')
            """)
        await fixture.expectRefused(
            """
            INSERT INTO videos (job_id, user_id, external_request_id, source_url)
            VALUES ((SELECT max(id) FROM jobs), 'u1', 'r1', 'https://e.test/other')
            """, mentioning: "UNIQUE constraint failed: videos.user_id, videos.external_request_id")
    }

    @Test("An upload exists only once its download has succeeded, and only once per target")
    func uploadGuards() async throws {
        let fixture = try StoreFixture()
        let owner = try await fixture.worker("download-1.a")
        let queued = try await fixture.store.enqueue(download: DownloadRequest(spec: .init(url: "https://e.test/q")))
            .job
        let insertUploadJob = """
            INSERT INTO jobs (kind, state, max_attempts, created_at, updated_at, due_at, state_cause)
            VALUES ('upload', 'queued', 3, 1, 1, 1, 'create')
            """
        try await fixture.execute(insertUploadJob)
        await fixture.expectRefused(
            "INSERT INTO uploads (job_id, download_id, target) VALUES ((SELECT max(id) FROM jobs), ?, 's3')",
            [queued.id.rawValue], mentioning: "only when its download has succeeded")
        let done = try await fixture.succeededDownload(targets: ["s3"], owner: owner)
        try await fixture.execute(insertUploadJob)
        await fixture.expectRefused(
            "INSERT INTO uploads (job_id, download_id, target) VALUES ((SELECT max(id) FROM jobs), ?, 's3')",
            [done.id.rawValue], mentioning: "UNIQUE constraint failed: uploads.download_id, uploads.target")
    }

    @Test("The event log is append-only")
    func eventsAppendOnly() async throws {
        let fixture = try StoreFixture()
        let queued = try await fixture.store.enqueue(download: DownloadRequest(spec: .init(url: "https://e.test/q")))
            .job
        await fixture.expectRefused(
            "UPDATE job_events SET reason = 'rewritten' WHERE job_id = ?", [queued.id.rawValue],
            mentioning: "append-only")
        await fixture.expectRefused(
            "DELETE FROM job_events WHERE job_id = ?", [queued.id.rawValue], mentioning: "append-only")
    }

    @Test("Deleting a download takes its uploads, their jobs and every event with it")
    func cascadeDelete() async throws {
        let fixture = try StoreFixture()
        let owner = try await fixture.worker("download-1.a")
        let done = try await fixture.succeededDownload(targets: ["s3", "ftp"], owner: owner)
        let uploads = try await fixture.store.uploads(of: done.id)
        #expect(uploads.count == 2)
        try await fixture.execute("DELETE FROM jobs WHERE id = ?", [done.id.rawValue])
        let left = try await fixture.store.pool.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs") ?? -1,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM uploads") ?? -1,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM downloads") ?? -1,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM job_events") ?? -1
            )
        }
        #expect(left.0 == 0 && left.1 == 0 && left.2 == 0 && left.3 == 0, "\(left)")
    }

    @Test("Only a live worker can claim; a worker's exit is refused while it still holds jobs")
    func workerGuards() async throws {
        let fixture = try StoreFixture()
        let owner = try await fixture.worker("download-1.a")
        let running = try await fixture.runningDownload(owner: owner).job
        await fixture.expectRefused(
            "UPDATE workers SET exited_at = 5000000000000, exit_reason = 'killed' WHERE id = ?", [owner.rawValue],
            mentioning: "requeue a worker's jobs before recording its exit")
        await expectStoreError(.invalidInput) {
            try await fixture.store.recordWorkerExit(owner, exit: WorkerExit(at: fixture.clock.now, reason: "killed"))
        }
        let requeued = try await fixture.store.recordWorkerExit(
            owner, exit: WorkerExit(at: fixture.clock.now, signal: 9, reason: "killed"), requeueingItsJobs: "exited")
        #expect(requeued.map(\.job.id) == [running.id])
        // Even raw SQL cannot hand a job to the dead worker.
        await fixture.expectRefused(
            "UPDATE jobs SET state = 'running', state_cause = 'claim', owner = ?, attempt = attempt + 1, started_at = 9 WHERE id = ?",
            [owner.rawValue, running.id.rawValue], mentioning: "only be claimed by a live worker")
        await expectStoreError(.invalidInput) {
            try await fixture.store.claimDueJobs(of: .download, for: owner, limit: 1)
        }
    }

    @Test("A download succeeds only with the size and SHA-256 it was asked for; a hash is 64 lower-case hex digits")
    func resultVerification() async throws {
        let fixture = try StoreFixture()
        let owner = try await fixture.worker("download-1.a")
        let expected = String(repeating: "cd", count: 32)
        let claimed = try await fixture.runningDownload(
            DownloadSpec(url: "https://e.test/v", expectedSize: 1024, expectedSHA256: expected), owner: owner)
        await expectStoreError(.invalidInput) {
            try await fixture.store.complete(
                JobCompletion(lease: claimed.lease, result: StoreFixture.result(for: claimed.job.id)))
        }
        await expectStoreError(.invalidInput) {
            try await fixture.store.complete(
                JobCompletion(lease: claimed.lease, result: JobResult(location: "/x", size: 1024, sha256: "xyz")))
        }
        await fixture.expectRefused(
            """
            UPDATE jobs SET state = 'succeeded', state_cause = 'complete', owner = NULL, finished_at = 9,
                result_location = '/x', result_size = 1024, result_sha256 = ? WHERE id = ?
            """, [String(repeating: "ef", count: 32), claimed.job.id.rawValue],
            mentioning: "a download cannot succeed with a size or SHA-256 other than expected")
        // Without an expectation, the hash must still be 64 lower-case hex digits.
        let unchecked = try await fixture.runningDownload(owner: owner)
        await fixture.expectRefused(
            """
            UPDATE jobs SET state = 'succeeded', state_cause = 'complete', owner = NULL, finished_at = 9,
                result_location = '/x', result_size = 1024, result_sha256 = ? WHERE id = ?
            """, [expected.uppercased(), unchecked.job.id.rawValue], mentioning: "CHECK constraint failed")
        #expect(try await fixture.store.job(claimed.job.id).state == .running, "refused outcomes change nothing")
        let done = try await fixture.store.complete(
            JobCompletion(lease: claimed.lease, result: JobResult(location: "/x", size: 1024, sha256: expected)))
        #expect(done.state == .succeeded)
    }

    @Test("A file name cannot climb out of its folder", arguments: ["../etc/passwd", "a/b", "..", "."])
    func fileNames(name: String) async throws {
        let fixture = try StoreFixture()
        try await fixture.execute(Self.queuedDownload)
        await fixture.expectRefused(
            "INSERT INTO downloads (job_id, url, file_name) VALUES ((SELECT max(id) FROM jobs), 'https://e.test/a', ?)",
            [name], mentioning: "CHECK constraint failed")
    }

    @Test("The schema's transition table is exactly the lifecycles of FerryCore")
    func transitionTableMatchesCore() async throws {
        let fixture = try StoreFixture()
        let rows = try fixture.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT kind, from_state, cause, to_state FROM job_transitions")
        }
        let schema = Set(rows.map { "\($0[0] as String) \($0[1] as String) \($0[2] as String) \($0[3] as String)" })
        let core = Set(
            JobKind.allCases.flatMap { kind in
                JobLifecycle.of(kind).transitions.map { "\(kind) \($0.from) \($0.command) \($0.to)" }
            })
        #expect(
            schema == core, "only in schema: \(schema.subtracting(core)); only in core: \(core.subtracting(schema))")
    }
}
