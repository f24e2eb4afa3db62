import AsyncHTTPClient
public import FerryCore
import NIOCore

/// The executors a worker of each role runs, and the shared resources they need.
public enum Executors {
    /// Runs `body` with the executors for `role`, and releases their resources afterwards.
    public static func with<Result: Sendable>(
        role: WorkerRole, stateDirectory: String, concurrency: Int, _ body: ([any JobExecutor]) async -> Result
    ) async -> Result {
        switch role {
        case .download:
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .follow(max: 5, allowCycles: false),
                timeout: .init(connect: .seconds(10), read: .seconds(30)))
            configuration.decompression = .disabled
            // The client keeps 8 connections per host by default; a worker running more jobs
            // than that against one origin would see the rest time out waiting for a connection.
            configuration.connectionPool = .init(
                idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, concurrency))
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
