import FerryConfig
import FerryCore
import FerrySupervisor
import Logging

/// What the controllers work with: the store for jobs, the supervisor for the fleet and samples,
/// the exporter for `/metrics`.
struct AdminDependencies: Sendable {
    let supervisor: Supervisor
    let store: any JobStore
    let exporter: PrometheusExporter
    let logger: Logger
    let hangTimeout: Duration
    /// Warn when a managed folder at its recent rate fills up within this time.
    let diskFullHorizon: Duration
    /// Due work older than this makes the sync health warn.
    let stuckAfter: Duration
    /// Upload targets a download may name; none are declared until the upload worker exists.
    let uploadTargets: Set<String>
    /// `downloads.allowed_schemes`: a download with another scheme is refused when it is asked for.
    var allowedSchemes: [String] = ["http", "https"]
    /// `downloads.max_size` (0: no limit): an uploaded torrent's total is checked against it.
    var maxSize: Int64 = 0
    /// The state folder, where uploaded `.torrent` files are kept.
    var stateDirectory: String = ""

    /// Where each job's file lives, on a shared queue (empty on SQLite: every file is here).
    func fileNodes(of ids: [JobID]) async throws(StoreError) -> [JobID: String] {
        guard let shared = supervisor.served.shared else { return [:] }
        return try await shared.fileNodes(of: ids)
    }
}
