import AsyncHTTPClient
import FerryCore
import FerryStore
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

/// Uploads to a real S3-compatible server (moto, on loopback), checked with boto3.
@Suite("Uploads to S3-compatible storage", .serialized)
struct S3UploadTests {
    let server: S3TestServer
    let folder: URL
    let bucket = "media"

    init() throws {
        server = try S3TestServer()
        try server.createBucket(bucket)
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-s3-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(S3TestServer.secretKey.utf8).write(to: folder.appendingPathComponent("secret"))
    }

    func target(threshold: Int64 = 64 << 20) -> UploadTarget {
        var s3 = UploadTarget.S3(
            endpoint: server.endpoint, bucket: bucket, accessKeyID: S3TestServer.accessKeyID,
            secretKeyFile: folder.appendingPathComponent("secret").path)
        s3.prefix = "ferry/"
        s3.multipartThreshold = threshold
        s3.partSize = 5 << 20
        return UploadTarget(name: "archive", kind: .s3, s3: s3)
    }

    /// A source file of `size` bytes and its upload spec.
    func source(size: Int, downloadID: Int64 = 7) throws -> UploadSpec {
        let file = folder.appendingPathComponent("clip-\(size).bin")
        try TestOrigin.content(size: size).write(to: file)
        return UploadSpec(
            downloadID: JobID(downloadID), target: "archive", sourcePath: file.path, sourceSize: Int64(size),
            sourceSHA256: try TestOrigin.sha256(ofFile: file.path))
    }

    /// Runs one attempt; `stopAfterParts` cancels it once that many parts are reported sent.
    func attempt(
        _ executor: UploadExecutor, _ spec: UploadSpec, number: Int, resumeState: String? = nil,
        stopAfterParts: Int? = nil
    ) async -> (result: Result<JobResult, JobFailure>, resume: String?) {
        let recorder = ResumeRecorder()
        let assignment = SupervisorMessage.Assignment(
            lease: JobLease(jobID: JobID(100), owner: WorkerID("w"), attempt: number), payload: .upload(spec),
            resumeState: resumeState)
        // A task of its own, as a worker runs each job: stopping it must not stop the test.
        let run = Task { () -> Result<JobResult, JobFailure> in
            do throws(JobFailure) {
                return .success(
                    try await executor.execute(assignment) { _, resume in
                        await recorder.record(resume)
                        if let stopAfterParts, let resume, let state = S3Target.ResumeState(json: resume),
                            state.parts.count >= stopAfterParts
                        {
                            withUnsafeCurrentTask { $0?.cancel() }
                        }
                    })
            } catch {
                return .failure(error)
            }
        }
        let result = await run.value
        return (result, await recorder.last ?? resumeState)
    }

    @Test("A small file goes up in one PUT with its SHA-256; delivering it again leaves one object")
    func singlePut() async throws {
        let executor = UploadExecutor(targets: [target()], client: HTTPClient.shared)
        let spec = try source(size: 1 << 20)
        let first = try await attempt(executor, spec, number: 1).result.get()
        #expect(first.location == "s3://media/ferry/7/clip-1048576.bin")
        let again = try await attempt(executor, spec, number: 2).result.get()
        #expect(again == first)
        let (objects, unfinished) = try server.contents(of: bucket)
        #expect(objects.map(\.key) == ["ferry/7/clip-1048576.bin"])
        #expect(objects.first?.sha256 == spec.sourceSHA256 && objects.first?.metaSHA256 == spec.sourceSHA256)
        #expect(unfinished == 0)
    }

    @Test("A big file goes up in parts; a stopped upload resumes with the parts already sent")
    func multipartResumes() async throws {
        let executor = UploadExecutor(targets: [target(threshold: 5 << 20)], client: HTTPClient.shared)
        // Seven parts, four in flight at a time: a stop after two leaves parts to resume with
        // however the in-flight ones end (with four parts, all could land before the stop did).
        let spec = try source(size: 33 << 20)
        let stopped = await attempt(executor, spec, number: 1, stopAfterParts: 2)
        #expect((try? stopped.result.get()) == nil, "the first attempt was stopped")
        let resume = try #require(S3Target.ResumeState(json: stopped.resume))
        // Parts go up several at a time: those already in flight when the stop came may land too.
        #expect((2..<7).contains(resume.parts.count), "\(resume.parts.count) of 7 parts sent")
        let finished = await attempt(executor, spec, number: 2, resumeState: stopped.resume)
        let result = try finished.result.get()
        #expect(result.sha256 == spec.sourceSHA256)
        let (objects, unfinished) = try server.contents(of: bucket)
        #expect(objects.count == 1 && objects.first?.size == spec.sourceSize)
        #expect(objects.first?.sha256 == spec.sourceSHA256, "byte-identical after a resumed multipart upload")
        #expect(unfinished == 0)
    }

    @Test("A resumed upload reads every page of the server's part listing")
    func partListingPages() async throws {
        let executor = UploadExecutor(targets: [target(threshold: 5 << 20)], client: HTTPClient.shared)
        // Eleven parts, four in flight at a time: a stop after three leaves parts unsent however
        // the in-flight ones end. With five parts (22 MiB), all could land before the stop on a
        // loaded machine, and the completed upload then no longer had a listing to page through.
        let spec = try source(size: 52 << 20, downloadID: 10)
        let stopped = await attempt(executor, spec, number: 1, stopAfterParts: 3)
        #expect((try? stopped.result.get()) == nil, "the first attempt was stopped before it finished")
        let resumed = try #require(S3Target.ResumeState(json: stopped.resume))
        #expect(resumed.parts.count >= 3)
        var paged = S3Target(settings: try #require(target().s3), client: HTTPClient.shared)
        paged.listPageSize = 1
        let listed = try #require(try await paged.partsStillThere(resumed, try paged.connection()))
        #expect(listed.parts.map(\.number).sorted() == resumed.parts.map(\.number).sorted())
        let finished = await attempt(executor, spec, number: 2, resumeState: stopped.resume)
        #expect(try finished.result.get().sha256 == spec.sourceSHA256)
        #expect(try server.contents(of: bucket).unfinishedUploads == 0)
    }

    @Test(
        "A multipart upload the server began but whose answer was lost is aborted once the object is delivered (found by the chaos suite's s3-faults)"
    )
    func forgottenUploadAborted() async throws {
        let executor = UploadExecutor(targets: [target(threshold: 5 << 20)], client: HTTPClient.shared)
        let spec = try source(size: 6 << 20, downloadID: 12)
        try server.beginForgottenUpload(in: bucket, key: "ferry/12/clip-6291456.bin")
        try server.beginForgottenUpload(in: bucket, key: "ferry/12/clip-6291456.bin.old")
        #expect(try server.contents(of: bucket).unfinishedUploads == 2)
        let result = try await attempt(executor, spec, number: 1).result.get()
        #expect(result.sha256 == spec.sourceSHA256)
        // The object's own stray is gone; another key's (even one it prefixes) is not this job's to abort.
        #expect(try server.contents(of: bucket).unfinishedUploads == 1)
        // Delivered before (a retry after a lost report): a stray begun since goes the same way.
        try server.beginForgottenUpload(in: bucket, key: "ferry/12/clip-6291456.bin")
        #expect(try await attempt(executor, spec, number: 2).result.get() == result)
        let (objects, unfinished) = try server.contents(of: bucket)
        #expect(objects.map(\.key) == ["ferry/12/clip-6291456.bin"])
        #expect(unfinished == 1)
    }

    @Test("A multipart upload the server dropped (expired) starts again cleanly")
    func expiredUploadRestarts() async throws {
        let executor = UploadExecutor(targets: [target(threshold: 5 << 20)], client: HTTPClient.shared)
        let spec = try source(size: 12 << 20, downloadID: 8)
        let stopped = await attempt(executor, spec, number: 1, stopAfterParts: 1)
        try server.expireUploads(in: bucket)
        let finished = await attempt(executor, spec, number: 2, resumeState: stopped.resume)
        #expect(try finished.result.get().sha256 == spec.sourceSHA256)
        let (objects, unfinished) = try server.contents(of: bucket)
        #expect(objects.first?.sha256 == spec.sourceSHA256)
        #expect(unfinished == 0)
    }

    @Test(
        "A cleanup run aborts the multipart upload a failed upload job left on the server, and a lost create's stray of its key (a dry run only lists it)"
    )
    func abandonedUploadAborted() async throws {
        let executor = UploadExecutor(targets: [target(threshold: 5 << 20)], client: HTTPClient.shared)
        let spec = try source(size: 12 << 20, downloadID: 9)
        let stopped = await attempt(executor, spec, number: 1, stopAfterParts: 1)
        let resume = try #require(stopped.resume)
        // Once (a clean clone's full run, not reproduced since) the upload was complete here.
        #expect((try? stopped.result.get()) == nil, "the first attempt was stopped before it finished: \(stopped)")
        let left = try server.contents(of: bucket)
        #expect(left.unfinishedUploads == 1, "objects \(left.objects.map(\.key)), resume state \(resume)")
        // The records: the upload job failed for good, its resume state naming the upload.
        let (store, _, upload) = try await UploadRecordsFixture.claimedUpload(in: folder, of: spec, to: "archive")
        _ = try await store.fail(upload.lease, with: .permanent("target_rejected", "test"), resumeState: resume)

        // A CreateMultipartUpload of the same key whose answer was lost: no resume state names it.
        try server.beginForgottenUpload(in: bucket, key: "ferry/9/clip-12582912.bin")
        let scanner = CleanupScanner(stateDirectory: folder.path, targets: [target(threshold: 5 << 20)])
        func order(dryRun: Bool) -> CleanupOrder {
            CleanupOrder(
                runID: 1, dryRun: dryRun, database: .sqlite(path: store.configuration.path), verifyHashes: false,
                orphans: .report, partialMaxAge: .seconds(3600), settleTime: .seconds(3600))
        }
        let dry = await scanner.run(order(dryRun: true))
        #expect(dry.error == nil)
        #expect(dry.report.abandonedUploads.map(\.action) == ["would_abort"])
        #expect(try server.contents(of: bucket).unfinishedUploads == 2, "a dry run aborts nothing")
        let real = await scanner.run(order(dryRun: false))
        let uploadID = try #require(S3Target.ResumeState(json: resume)?.uploadID)
        #expect(
            real.report.abandonedUploads
                == [
                    AbandonedUpload(
                        jobID: upload.job.id.rawValue, target: "archive", uploadID: uploadID, action: "aborted")
                ]
        )
        #expect(try server.contents(of: bucket).unfinishedUploads == 0)
        #expect(try server.contents(of: bucket).objects.isEmpty)
    }

    @Test("An unreadable secret key file fails for good, saying which file")
    func missingSecret() async throws {
        var broken = target()
        broken.s3?.secretKeyFile = "/nonexistent/secret"
        let executor = UploadExecutor(targets: [broken], client: HTTPClient.shared)
        let outcome = await attempt(executor, try source(size: 1000), number: 1)
        guard case .failure(let failure) = outcome.result else {
            Issue.record("uploaded without credentials")
            return
        }
        #expect(failure.code == "target_misconfigured" && !failure.isRetryable)
        #expect(failure.message.contains("/nonexistent/secret"))
    }
}
