import FerryCore
import FerryStore
import Foundation
import Testing

/// The records a cleanup scan reads about uploads: a SQLite store in `folder` with one download of
/// `file` that succeeded with `target` to deliver to, and that upload claimed by a worker.
enum UploadRecordsFixture {
    static func claimedUpload(
        in folder: URL, of file: UploadSpec, to target: String
    ) async throws -> (store: SQLiteJobStore, download: JobID, upload: ClaimedJob) {
        let store = try SQLiteJobStore.open(StoreConfiguration(path: folder.appendingPathComponent("ferry.db").path))
        _ = try store.migrate()
        let worker = WorkerID("upload-1.a")
        try await store.registerWorker(WorkerRecord(id: worker, role: .upload, slot: 1, pid: 1, startedAt: Date()))
        _ = try await store.enqueue(
            download: DownloadRequest(spec: DownloadSpec(url: "https://example.test/v", uploadTargets: [target])))
        let download = try #require(try await store.claimDueJobs(of: .download, for: worker, limit: 1).first)
        _ = try await store.complete(
            JobCompletion(
                lease: download.lease,
                result: JobResult(location: file.sourcePath, size: file.sourceSize, sha256: file.sourceSHA256)))
        let upload = try #require(try await store.claimDueJobs(of: .upload, for: worker, limit: 1).first)
        return (store, download.job.id, upload)
    }
}
