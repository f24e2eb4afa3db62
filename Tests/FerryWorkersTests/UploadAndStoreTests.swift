import AsyncHTTPClient
import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

/// The upload worker's `dir` target and the store worker's content-addressed video store, run in
/// this process against real files and a real origin.
@Suite("Uploads to a folder and permanent video storage", .serialized)
struct UploadAndStoreTests {
    func scratch() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-upload-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    func upload(_ executor: UploadExecutor, _ spec: UploadSpec, attempt: Int = 1) async -> Result<JobResult, JobFailure>
    {
        let assignment = SupervisorMessage.Assignment(
            lease: JobLease(jobID: JobID(900 + Int64(attempt)), owner: WorkerID("w"), attempt: attempt),
            payload: .upload(spec))
        do {
            return .success(try await executor.execute(assignment) { _, _ in })
        } catch {
            return .failure(error)
        }
    }

    /// A scratch folder with a source file of `size` bytes, a `dir` target named backup, and the
    /// spec of delivering the file as download 7.
    func delivery(
        size: Int
    ) throws -> (
        folder: URL, content: Data, target: URL, executor: UploadExecutor, spec: UploadSpec
    ) {
        let folder = try scratch()
        let source = folder.appendingPathComponent("clip.bin")
        let content = TestOrigin.content(size: size)
        try content.write(to: source)
        let target = folder.appendingPathComponent("target")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let executor = UploadExecutor(
            targets: [UploadTarget(name: "backup", kind: .dir, path: target.path)], client: HTTPClient.shared)
        let spec = UploadSpec(
            downloadID: JobID(7), target: "backup", sourcePath: source.path, sourceSize: Int64(content.count),
            sourceSHA256: try TestOrigin.sha256(ofFile: source.path))
        return (folder, content, target, executor, spec)
    }

    @Test("A dir upload is byte-identical, leaves no temporary file, and a second delivery creates no second object")
    func directoryUpload() async throws {
        let (folder, content, target, executor, spec) = try delivery(size: 3_000_000)
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try await upload(executor, spec).get()
        #expect(first.location == target.path + "/7/clip.bin")
        #expect(try Data(contentsOf: URL(fileURLWithPath: first.location)) == content)
        let second = try await upload(executor, spec, attempt: 2).get()
        #expect(second == first)
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path + "/7") == ["clip.bin"])
    }

    @Test("A dir upload removes the temporary copies earlier attempts of its job left when they were killed mid-copy")
    func directoryUploadRemovesEarlierTemporaries() async throws {
        let (folder, _, target, executor, spec) = try delivery(size: 100_000)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(
            at: target.appendingPathComponent("7"), withIntermediateDirectories: true)
        // The helper's job id is 900 + attempt: attempt 5 is job 905.
        let leftovers = [".clip.bin.ferry-905-1.part", ".clip.bin.ferry-905-3.part", ".clip.bin.ferry-42-1.part"]
        for name in leftovers { try Data("partial".utf8).write(to: target.appendingPathComponent("7/\(name)")) }
        _ = try await upload(executor, spec, attempt: 5).get()
        let left = try FileManager.default.contentsOfDirectory(atPath: target.path + "/7").sorted()
        #expect(left == [".clip.bin.ferry-42-1.part", "clip.bin"], "another job's file is not this job's to remove")
    }

    /// A folder result as a multi-file torrent leaves it: `album/` with two files, one in a subfolder.
    static func folderResult(in folder: URL, downloadID: Int64 = 8, target: String = "backup") throws -> UploadSpec {
        let album = folder.appendingPathComponent("album")
        try FileManager.default.createDirectory(
            at: album.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try TestOrigin.content(size: 1_500_000).write(to: album.appendingPathComponent("one.bin"))
        try TestOrigin.content(size: 700_001, seed: 3).write(to: album.appendingPathComponent("sub/two.bin"))
        let manifest = try FolderManifest.of(album.path)
        return UploadSpec(
            downloadID: JobID(downloadID), target: target, sourcePath: album.path, sourceSize: manifest.size,
            sourceSHA256: manifest.sha256)
    }

    @Test(
        "A folder result (a torrent of several files) goes to a dir target as one folder under its name, every file byte-identical; again, nothing doubles"
    )
    func folderUpload() async throws {
        let (folder, _, target, executor, _) = try delivery(size: 10)
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = try Self.folderResult(in: folder)
        // A killed earlier attempt's half-copied folder is cleared away (the helper's job id is 900 + attempt).
        try FileManager.default.createDirectory(
            at: target.appendingPathComponent("8/.album.ferry-902-1.part/sub"), withIntermediateDirectories: true)
        let first = try await upload(executor, spec, attempt: 2).get()
        #expect(first.location == target.path + "/8/album")
        #expect(first.size == 2_200_001 && first.sha256 == spec.sourceSHA256)
        for file in ["one.bin", "sub/two.bin"] {
            #expect(
                try TestOrigin.sha256(ofFile: "\(first.location)/\(file)")
                    == (try TestOrigin.sha256(ofFile: "\(spec.sourcePath)/\(file)")))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path + "/8") == ["album"])
        // Delivered again (a lost report): the folder is there, whole; a damaged one is replaced.
        #expect(try await upload(executor, spec, attempt: 3).get() == first)
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: first.location + "/one.bin"))
        #expect(try await upload(executor, spec, attempt: 4).get() == first)
        #expect(try FolderManifest.of(first.location).sha256 == spec.sourceSHA256)
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path + "/8") == ["album"])
    }

    @Test("A missing target folder is retryable (not mounted), a missing source or target name is permanent")
    func uploadFailures() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = folder.appendingPathComponent("a.bin")
        try Data("abc".utf8).write(to: source)
        let unmounted = folder.appendingPathComponent("not-mounted").path
        let executor = UploadExecutor(
            targets: [UploadTarget(name: "nas", kind: .dir, path: unmounted)], client: HTTPClient.shared)
        let spec = UploadSpec(
            downloadID: JobID(1), target: "nas", sourcePath: source.path, sourceSize: 3,
            sourceSHA256: try TestOrigin.sha256(ofFile: source.path))
        let notMounted = await upload(executor, spec)
        #expect((try? notMounted.get()) == nil)
        if case .failure(let failure) = notMounted {
            #expect(failure.code == "target_unavailable" && failure.isRetryable)
        }
        #expect(!FileManager.default.fileExists(atPath: unmounted), "an unmounted mount point is not written into")
        var gone = spec
        gone.sourcePath = folder.appendingPathComponent("vanished.bin").path
        if case .failure(let failure) = await upload(executor, gone) {
            #expect(failure.code == "source_missing" && !failure.isRetryable)
        } else {
            Issue.record("a vanished source was uploaded")
        }
        var unknown = spec
        unknown.target = "elsewhere"
        if case .failure(let failure) = await upload(executor, unknown) {
            #expect(failure.code == "unknown_target" && !failure.isRetryable)
        } else {
            Issue.record("an unknown target was accepted")
        }
    }

    @Test(
        "Identical videos are stored once; the record keeps size, SHA-256 and content type; an error page is no video")
    func contentAddressedStore() async throws {
        let state = try scratch()
        defer { try? FileManager.default.removeItem(at: state) }
        let origin = try TestOrigin()
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: DownloadExecutor.clientConfiguration(DownloadSettings(), concurrency: 2))
        let executor = VideoStoreExecutor(stateDirectory: state.path, settings: DownloadSettings(), client: client)
        func store(_ id: Int64, _ url: String) async -> Result<JobResult, JobFailure> {
            let assignment = SupervisorMessage.Assignment(
                lease: JobLease(jobID: JobID(id), owner: WorkerID("w"), attempt: 1),
                payload: .video(VideoSpec(userID: "u", externalRequestID: "r\(id)", sourceURL: url)))
            do {
                return .success(try await executor.execute(assignment) { _, _ in })
            } catch {
                return .failure(error)
            }
        }
        let size = 400_000
        let sha = try TestOrigin.sha256(size: size)
        let first = try await store(1, origin.url(size: size)).get()
        let second = try await store(2, origin.url(size: size, rate: 0, stallAfter: nil) + "&copy=2").get()
        #expect(first.location == second.location)
        #expect(first.location.hasSuffix("/videos/\(sha.prefix(2))/\(sha.dropFirst(2).prefix(2))/\(sha)"))
        #expect(first.sha256 == sha && first.size == Int64(size))
        #expect(first.contentType == "application/octet-stream")
        #expect(try TestOrigin.sha256(ofFile: first.location) == sha)
        let spool = state.appendingPathComponent("spool").path
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool).isEmpty)
        // The origin's request log answers JSON with 200: an expired link's error page looks like that.
        let page = await store(3, "http://127.0.0.1:\(origin.port)/log/none")
        try await client.shutdown()
        if case .failure(let failure) = page {
            #expect(failure.code == "not_a_video")
        } else {
            Issue.record("a JSON page was stored as a video")
        }
    }
}
