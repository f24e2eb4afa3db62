import FerryConfig
import FerryCore
import FerryPostgres
import Foundation
import Logging

extension StoreBootstrap {
    /// On PostgreSQL this supervisor is a node: it migrates (under an advisory lock, so nodes
    /// starting together migrate once), takes its first lease, then recovers only what its own
    /// earlier incarnations left. Other nodes' work is theirs.
    static func openNode(
        _ loaded: LoadedConfiguration, logger: Logger
    ) async throws(StoreError) -> (ServeStore, Report) {
        let configuration = loaded.configuration
        // The database is elsewhere, but this node's files (spool, downloads, videos) are here.
        try createFolder(loaded.stateDirectory)
        let (lock, home) = try NodeHome.claim(loaded.stateDirectory)
        let identity = NodeIdentity(
            name: configuration.cluster.nodeName.isEmpty ? hostNodeName() : configuration.cluster.nodeName,
            address: adminAddress(configuration.http), lease: configuration.cluster.lease, home: home)
        let password: String?
        do {
            password = try loaded.databasePassword()
        } catch {
            throw StoreError(.invalidInput, "\(error)")
        }
        var settings = try PostgresStoreConfiguration(
            url: configuration.database.url, password: password, maximumConnections: 8,
            retryPolicies: configuration.retry.policies)
        settings.node = identity
        settings.serialTargets = configuration.serialTargets
        let store = try await PostgresJobStore.open(settings, logger: logger)
        // The cleanup worker reads as this node; it is told where the password is, never the password.
        let access = PostgresAccess(
            url: configuration.database.url,
            passwordFile: configuration.database.passwordFile.isEmpty ? nil : configuration.database.passwordFile,
            node: identity.id, lease: identity.lease)
        // Without a password file the worker looks in its environment, which has the supervisor's
        // (where $FERRY_DATABASE_PASSWORD is) plus, for a password written into the URL, this.
        let environment =
            configuration.database.passwordFile.isEmpty
            ? settings.password.map { [DatabasePassword.environmentVariable: $0] } ?? [:] : [:]
        let served = ServeStore(
            shared: store, cleanupDatabase: .postgres(access), location: settings.description,
            cleanupEnvironment: environment, close: { store.close() })
        do {
            let applied = try await store.migrate()
            if !applied.isEmpty {
                logger.notice("migrated the database", metadata: ["migrations": "\(applied.joined(separator: ", "))"])
            }
            let joinedAt = ContinuousClock.now
            try await store.registerNode()
            logger.notice(
                "joined the cluster",
                metadata: [
                    "node": "\(identity.id)", "lease": "\(identity.lease)", "database": "\(settings.description)",
                ])
            let recovered = try await recover(served, loaded, logger: logger)
            return (
                served,
                Report(appliedMigrations: applied, recovered: recovered, lock: lock, node: (identity, joinedAt))
            )
        } catch {
            store.close()
            throw error
        }
    }

    /// The host name's first label, in the characters a node name allows.
    static func hostNodeName() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
        let cleaned = String(
            host.map { FerryConfiguration.Cluster.allowedInNodeName($0) ? $0 : "-" }.prefix(63))
        return cleaned.isEmpty ? "ferry" : cleaned
    }

    /// The admin API's address as other nodes' operators would open it (nil when the port is
    /// chosen at start).
    static func adminAddress(_ http: FerryConfiguration.HTTP) -> String? {
        guard http.port != 0 else { return nil }
        let host = http.address.contains(":") ? "[\(http.address)]" : http.address
        return "http://\(host):\(http.port)"
    }
}
