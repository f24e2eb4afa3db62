import AsyncHTTPClient
public import FerryCore
import NIOCore

/// The executors a worker of each role runs, and the shared resources they need.
public enum Executors {
    /// Runs `body` with the executors for `role`, and releases their resources afterwards.
    public static func with<Result: Sendable>(
        role: WorkerRole, stateDirectory: String, concurrency: Int, settings: WorkerSettings,
        _ body: ([any JobExecutor]) async -> Result
    ) async -> Result {
        switch role {
        case .download, .store:
            let downloads = settings.downloads
            let client = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: DownloadExecutor.clientConfiguration(downloads, concurrency: concurrency))
            let executor: any JobExecutor =
                role == .download
                ? DownloadExecutor(stateDirectory: stateDirectory, settings: downloads, client: client)
                : VideoStoreExecutor(stateDirectory: stateDirectory, settings: downloads, client: client)
            let result = await body([executor])
            try? await client.shutdown()
            return result
        case .upload:
            return await body([UploadExecutor(targets: settings.targets)])
        case .cleanup:
            // The cleanup worker's scans are not built yet; this role takes no jobs.
            return await body([])
        }
    }
}
