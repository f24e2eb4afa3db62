import AsyncHTTPClient
import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryWorkers

/// A folder result (a torrent of several files) on an S3 target: one object per file, on a real
/// server (moto) with versioning on, so that every write is counted.
extension S3UploadTests {
    @Test(
        "A folder result goes to S3 as one verified object per file under the folder's name; a file already there is not sent again"
    )
    func folderResult() async throws {
        try server.enableVersioning(of: bucket)
        // one.bin (1.5 MB) above the threshold goes in parts, sub/two.bin in one PUT.
        let executor = UploadExecutor(targets: [target(threshold: 1 << 20)], client: HTTPClient.shared)
        let album = folder.appendingPathComponent("album")
        try FileManager.default.createDirectory(at: album, withIntermediateDirectories: true)
        try TestOrigin.content(size: 1_500_000).write(to: album.appendingPathComponent("one.bin"))
        // A first delivery when the folder held one file (as a retry finds part of it delivered).
        let partial = try folderSpec(album, downloadID: 30)
        _ = try await attempt(executor, partial, number: 1).result.get()
        try FileManager.default.createDirectory(
            at: album.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try TestOrigin.content(size: 700_001, seed: 3).write(to: album.appendingPathComponent("sub/two.bin"))
        let spec = try folderSpec(album, downloadID: 30)

        let result = try await attempt(executor, spec, number: 2).result.get()
        #expect(result.location == "s3://\(bucket)/ferry/30/album/")
        #expect(result.size == 2_200_001 && result.sha256 == spec.sourceSHA256)
        let (objects, unfinished) = try server.contents(of: bucket)
        let byKey = Dictionary(uniqueKeysWithValues: objects.map { ($0.key, $0) })
        for file in ["one.bin", "sub/two.bin"] {
            let object = try #require(byKey["ferry/30/album/\(file)"], "\(objects.map(\.key))")
            let sha256 = try TestOrigin.sha256(ofFile: album.appendingPathComponent(file).path)
            #expect(object.sha256 == sha256 && object.metaSHA256 == sha256)
        }
        #expect(objects.count == 2 && unfinished == 0)
        #expect(try server.versions(of: "ferry/30/album/one.bin", in: bucket) == 1, "sent again")
        // Delivered again (a lost report): nothing is written.
        #expect(try await attempt(executor, spec, number: 3).result.get() == result)
        #expect(try server.versions(of: "ferry/30/album/sub/two.bin", in: bucket) == 1)
        #expect(try server.versions(of: "ferry/30/album/one.bin", in: bucket) == 1)
    }

    @Test("A folder's upload stopped in the middle of a big file resumes that file's multipart upload")
    func folderResumes() async throws {
        try server.enableVersioning(of: bucket)
        let executor = UploadExecutor(targets: [target(threshold: 5 << 20)], client: HTTPClient.shared)
        let album = folder.appendingPathComponent("big-album")
        try FileManager.default.createDirectory(at: album, withIntermediateDirectories: true)
        try TestOrigin.content(size: 1000).write(to: album.appendingPathComponent("a.bin"))
        // Seven parts, four in flight at a time: a stop after two leaves parts to resume with.
        try TestOrigin.content(size: 33 << 20, seed: 5).write(to: album.appendingPathComponent("b.bin"))
        let spec = try folderSpec(album, downloadID: 31)
        let stopped = await attempt(executor, spec, number: 1, stopAfterParts: 2)
        #expect((try? stopped.result.get()) == nil, "the first attempt was stopped")
        let resume = try #require(S3Target.ResumeState(json: stopped.resume))
        #expect(resume.key == "ferry/31/big-album/b.bin")
        let finished = await attempt(executor, spec, number: 2, resumeState: stopped.resume)
        #expect(try finished.result.get().sha256 == spec.sourceSHA256)
        #expect(S3Target.ResumeState(json: finished.resume)?.uploadID == resume.uploadID, "b.bin started over")
        #expect(try server.versions(of: "ferry/31/big-album/a.bin", in: bucket) == 1)
        let (objects, unfinished) = try server.contents(of: bucket)
        #expect(objects.count == 2 && unfinished == 0)
    }

    /// An upload of `folder` as its download recorded it.
    private func folderSpec(_ folder: URL, downloadID: Int64) throws -> UploadSpec {
        let manifest = try FolderManifest.of(folder.path)
        return UploadSpec(
            downloadID: JobID(downloadID), target: "archive", sourcePath: folder.path, sourceSize: manifest.size,
            sourceSHA256: manifest.sha256)
    }
}
