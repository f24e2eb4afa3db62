import FerryCore
import FerryPostgres
import FerryTesting
import Foundation
import Testing

@testable import FerryStore

/// The two stores the job engine's tests run against: the same test, the same expectations.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

/// A migrated store of either backend with a hand-moved clock: an SQLite file in a temporary
/// folder, or a fresh database on the test process's own PostgreSQL server.
final class EngineFixture: StoreHelpers {
    let clock = TestClock()
    /// The whole store: the engine and what the cleanup needs of it.
    let store: any CleanupStore
    /// A folder of the test's own, for files (removed with the fixture).
    let folder: URL
    private let sqlite: StoreFixture?
    /// The PostgreSQL database's URL (nil on SQLite): for a second node, or psql.
    let postgresURL: String?

    init(_ backend: StoreBackend, policies: RetryPolicies = .standard, serialTargets: Set<String> = []) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        switch backend {
        case .sqlite:
            let fixture = try StoreFixture(policies: policies, clock: clock, serialTargets: serialTargets)
            sqlite = fixture
            store = fixture.store
            postgresURL = nil
        case .postgres:
            sqlite = nil
            let server = try await PostgresTestServer.shared()
            let clock = clock
            let url = try await server.makeDatabase()
            postgresURL = url
            var configuration = try PostgresStoreConfiguration.patient(url, retryPolicies: policies, now: { clock.now })
            configuration.serialTargets = serialTargets
            let postgres = try await PostgresJobStore.open(configuration)
            try await postgres.migrate()
            store = postgres
        }
    }

    deinit {
        (store as? PostgresJobStore)?.close()
        try? FileManager.default.removeItem(at: folder)
    }

    var jobStore: any JobStore { store }

    /// Raw SQL against the fixture's SQLite file (see ``StoreFixture/expectRefused(_:_:mentioning:sourceLocation:)``).
    var sqliteFixture: StoreFixture? { sqlite }
}
