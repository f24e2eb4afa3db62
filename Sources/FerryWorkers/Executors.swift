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
            // A download worker owns its aria2c (started on the first job that needs it).
            let aria2 =
                role == .download
                ? Aria2Engine(
                    downloads: downloads, session: Aria2Engine.sessionFile(stateDirectory: stateDirectory),
                    client: client) : nil
            let executor: any JobExecutor =
                role == .download
                ? DownloadExecutor(
                    stateDirectory: stateDirectory, settings: downloads, client: client,
                    telegramBots: settings.telegramBots, aria2: aria2)
                : VideoStoreExecutor(stateDirectory: stateDirectory, settings: downloads, client: client)
            let result = await body([executor])
            await aria2?.shutdown()
            try? await client.shutdown()
            return result
        case .upload:
            var configuration = HTTPClient.Configuration(
                timeout: .init(connect: .seconds(10), read: .seconds(120)))
            configuration.decompression = .disabled
            configuration.connectionPool = .init(
                idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, concurrency))
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let executor = UploadExecutor(
                targets: settings.targets, client: client, telegramBots: settings.telegramBots,
                stateDirectory: stateDirectory, sharedTelegramTurns: settings.sharedTelegramTurns)
            let result = await body([executor])
            await executor.telegramPacer.shutdown()
            try? await client.shutdown()
            return result
        case .cleanup, .telegram:
            // Cleanup workers scan when told to and telegram workers poll their bots: no jobs.
            return await body([])
        }
    }
}
