import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

/// Resuming a download: bytes are appended only to a 206 that continues exactly where the partial
/// file ends, for the copy the partial file came from; everything else starts over cleanly.
@Suite("Download resume against a hostile origin", .serialized)
struct DownloadResumeTests {
    let size = 600_000

    @Test(
        "A connection cut mid-body keeps the partial file; the retry asks for the rest with If-Range and the file is whole"
    )
    func resumesAfterCut() async throws {
        let fixture = try DownloadFixture()
        var options = TestOrigin.Options(key: "cut-\(UUID())")
        options.cutAfter = 250_000
        let sha = try TestOrigin.sha256(size: size)
        let spec = DownloadSpec(url: fixture.origin.url(size: size, options), expectedSHA256: sha)
        let first = await fixture.attempt(1, spec)
        let failure = try #require(first.failure)
        #expect(failure.isRetryable, "\(failure)")
        #expect(fixture.spoolFiles == ["job-\(fixture.jobID)-attempt-1.part"], "the partial file is kept")
        let second = await fixture.attempt(2, spec, resumeState: first.resumeState)
        let result = try #require(second.success, "\(String(describing: second.failure))")
        let log = try await fixture.origin.log(options.key!)
        #expect(log.count == 2)
        let range = try #require(log.last?.range)
        let resumedFrom = try #require(Int(range.dropFirst("bytes=".count).dropLast()))
        #expect(resumedFrom > 0 && resumedFrom <= 250_000, "resumed from \(range)")
        #expect(log.last?.ifRange == "\"v0-\(size)\"", "validated by the strong ETag")
        #expect(log.last?.status == 206)
        #expect(result.sha256 == sha)
        #expect(try TestOrigin.sha256(ofFile: result.location) == sha)
        #expect(fixture.spoolFiles.isEmpty)
    }

    @Test("When the origin's copy changed between attempts, the partial file is replaced, never mixed")
    func changedCopyStartsOver() async throws {
        let fixture = try DownloadFixture()
        var options = TestOrigin.Options(key: "changing-\(UUID())")
        options.changing = true
        let (first, second) = await fixture.cutThenRetry(options, size: size, cutAfter: 200_000)
        #expect(first.failure?.isRetryable == true)
        let result = try #require(second.success, "\(String(describing: second.failure))")
        let log = try await fixture.origin.log(options.key!)
        #expect(log.last?.range != nil, "the retry asked for the rest")
        #expect(log.last?.status == 200, "the origin's If-Range did not match, so it sent the whole new copy")
        #expect(try Data(contentsOf: URL(fileURLWithPath: result.location)) == TestOrigin.content(size: size, seed: 1))
    }

    @Test("An origin without range support restarts cleanly")
    func noRangeSupport() async throws {
        let fixture = try DownloadFixture()
        var options = TestOrigin.Options(key: "noranges-\(UUID())")
        options.noRanges = true
        let (first, second) = await fixture.cutThenRetry(
            options, size: size, cutAfter: 300_000, expectedSize: Int64(size))
        #expect(first.failure?.isRetryable == true)
        let result = try #require(second.success, "\(String(describing: second.failure))")
        #expect(try await fixture.origin.log(options.key!).last?.status == 200)
        #expect(try Data(contentsOf: URL(fileURLWithPath: result.location)) == TestOrigin.content(size: size))
    }

    @Test("With only a weak validator nothing is resumed: the partial file is dropped and no Range is sent")
    func weakValidatorStartsOver() async throws {
        let fixture = try DownloadFixture()
        var options = TestOrigin.Options(key: "weak-\(UUID())")
        options.weakValidator = true
        let (first, second) = await fixture.cutThenRetry(options, size: size, cutAfter: 300_000)
        #expect(first.failure?.isRetryable == true)
        #expect(first.resumeState.map { DownloadResumeState(json: $0).ifRange == nil } ?? true)
        let result = try #require(second.success)
        #expect(try await fixture.origin.log(options.key!).map(\.range) == [nil, nil])
        #expect(try Data(contentsOf: URL(fileURLWithPath: result.location)) == TestOrigin.content(size: size))
    }

    @Test("An error page answering a resume never lands in the partial file")
    func errorPageNeverLands() async throws {
        let fixture = try DownloadFixture()
        var options = TestOrigin.Options(key: "errorpage-\(UUID())")
        options.cutAfter = 100_000
        let spec = DownloadSpec(url: fixture.origin.url(size: size, options))
        let first = await fixture.attempt(1, spec)
        let partial = fixture.state.appendingPathComponent("spool/job-\(fixture.jobID)-attempt-1.part").path
        let kept = fixture.size(of: partial)
        #expect(kept > 0)
        // The same job's next attempt meets a 503 from another URL of the origin: nothing is written.
        var failing = TestOrigin.Options(key: "errorpage-503-\(UUID())")
        failing.failures = (503, 1)
        var broken = spec
        broken.url = fixture.origin.url(size: size, failing)
        let second = await fixture.attempt(2, broken, resumeState: first.resumeState)
        #expect(second.failure?.code == "http_503")
        #expect(second.failure?.retryAfter == .seconds(1), "Retry-After is honoured")
        let moved = fixture.state.appendingPathComponent("spool/job-\(fixture.jobID)-attempt-2.part").path
        #expect(fixture.size(of: moved) == kept, "the partial file is untouched by the error page")
        let prefix = try Data(contentsOf: URL(fileURLWithPath: moved))
        #expect(prefix == TestOrigin.content(size: size).prefix(Int(kept)))
        let third = await fixture.attempt(3, spec, resumeState: second.resumeState)
        let result = try #require(third.success)
        #expect(try Data(contentsOf: URL(fileURLWithPath: result.location)) == TestOrigin.content(size: size))
    }

    @Test("A second attempt waits for the first to let go of the job's files")
    func folderLockExcludesPredecessor() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-lock-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var held: JobFolderLock? = try await JobFolderLock.acquire(folder.path)
        await #expect(throws: JobFailure.self) {
            _ = try await JobFolderLock.acquire(folder.path, patience: .milliseconds(300))
        }
        withExtendedLifetime(held) {}
        held = nil
        _ = try await JobFolderLock.acquire(folder.path, patience: .milliseconds(300))
    }
}
