import FerryCore
import FerrySupervisor
import Foundation

/// A node's view of its cluster (PostgreSQL store only): its own lease, and every node the
/// database knows. What `/api/cluster` answers and the `cluster:nodes` and
/// `database:reachable` health checks judge.
struct ClusterView {
    var thisNode: NodeIdentity
    var lease: NodeLease.State
    /// Every node, or why the database could not list them.
    var nodes: Result<[ClusterNode], StoreError>
    var at: Date

    static func read(_ supervisor: Supervisor) async -> ClusterView? {
        guard let lease = supervisor.nodeLease, let shared = supervisor.served.shared else { return nil }
        let nodes: Result<[ClusterNode], StoreError>
        do {
            nodes = .success(try await shared.cluster())
        } catch {
            nodes = .failure(error)
        }
        return ClusterView(thisNode: lease.identity, lease: await lease.state, nodes: nodes, at: Date())
    }

    /// `cluster:nodes`: fail once this node lost its lease (it stops and exits); warn while
    /// another node's lease has run out and its work is not yet taken over, or the list cannot
    /// be read. `database:reachable`: whether PostgreSQL answered just now.
    func add(to document: inout HealthDocument) {
        switch nodes {
        case .success:
            document.add(
                "database:reachable", HealthCheck(type: "datastore", value: 1, status: .pass, time: at))
        case .failure(let error):
            document.add(
                "database:reachable",
                HealthCheck(
                    type: "datastore", value: 0, status: .fail, time: at,
                    output: "PostgreSQL did not answer: \(error.message)"))
        }
        let live = (try? nodes.get())?.filter(\.isLive) ?? []
        let dying = (try? nodes.get())?.filter { $0.stopReason == nil && !$0.isLive } ?? []
        var status: HealthStatus = .pass
        var output: String?
        switch lease {
        case .fenced(let reason):
            status = .fail
            output = "this node lost its lease and stops acting on the queue: \(reason)"
        case .joining:
            status = .warn
            output = "this node has not joined the cluster yet"
        case .live:
            if !dying.isEmpty {
                status = .warn
                output =
                    "lease ran out, work being taken over: \(dying.map(\.id).sorted().joined(separator: ", "))"
            } else if case .failure = nodes {
                status = .warn
                output = "the cluster's nodes cannot be listed now"
            }
        }
        document.add(
            "cluster:nodes",
            HealthCheck(
                id: thisNode.id, type: "component", value: Double(live.count), status: status, time: at,
                output: output, details: ["node": thisNode.id, "live": live.map(\.id).sorted().joined(separator: ",")]))
    }
}
