import AsyncHTTPClient
public import FerryCore
import NIOCore

/// The executors a worker of each role runs, and the shared resources they need.
public enum Executors {
    /// Runs `body` with the executors for `role`, and releases their resources afterwards.
    public static func with<Result: Sendable>(
        role: WorkerRole, stateDirectory: String, _ body: ([any JobExecutor]) async -> Result
    ) async -> Result {
        switch role {
        case .download:
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .follow(max: 5, allowCycles: false),
                timeout: .init(connect: .seconds(10), read: .seconds(30)))
            configuration.decompression = .disabled
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let result = await body([DownloadExecutor(stateDirectory: stateDirectory, client: client)])
            try? await client.shutdown()
            return result
        case .upload, .store, .cleanup:
            // Their executors arrive with the workers issue; until then these roles take no jobs.
            return await body([])
        }
    }
}
