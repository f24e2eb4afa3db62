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
        case .download:
            let downloads = settings.downloads
            let client = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: DownloadExecutor.clientConfiguration(downloads, concurrency: concurrency))
            let result = await body([
                DownloadExecutor(stateDirectory: stateDirectory, settings: downloads, client: client)
            ])
            try? await client.shutdown()
            return result
        case .upload, .store, .cleanup:
            // Their executors arrive with the workers issue; until then these roles take no jobs.
            return await body([])
        }
    }
}
