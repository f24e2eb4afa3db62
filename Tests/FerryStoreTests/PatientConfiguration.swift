import FerryCore
import FerryPostgres
import Foundation

extension PostgresStoreConfiguration {
    /// The store's settings for a test: deadlines long enough for a machine busy with the whole
    /// test suite (the production deadlines are what `PostgresRestartTests` checks, on a store of
    /// its own).
    static func patient(
        _ url: String, retryPolicies: RetryPolicies = .standard, now: @escaping @Sendable () -> Date = { Date() }
    ) throws -> PostgresStoreConfiguration {
        var configuration = try PostgresStoreConfiguration(url: url, retryPolicies: retryPolicies, now: now)
        configuration.connectTimeout = .seconds(120)
        configuration.callTimeout = .seconds(120)
        return configuration
    }
}
