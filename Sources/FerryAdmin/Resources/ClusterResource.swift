import FerryCore
import FerrySupervisor

/// `GET /api/cluster`.
struct ClusterResource: Encodable {
    struct Node: Encodable {
        var id: String
        var name: String
        var address: String?
        var live: Bool
        var leaseLeftSeconds: Double
        var stopReason: String?
        var workers: Int
        var jobsHeld: Int
        var thisNode: Bool
    }

    var thisNode: String
    /// `live`, `joining` or `fenced`.
    var state: String
    var fencedReason: String?
    var nodes: [Node]

    init(_ view: ClusterView, nodes: [ClusterNode]) {
        thisNode = view.thisNode.id
        switch view.lease {
        case .joining: state = "joining"
        case .live: state = "live"
        case .fenced(let reason):
            state = "fenced"
            fencedReason = reason
        }
        self.nodes = nodes.map {
            Node(
                id: $0.id, name: $0.name, address: $0.address, live: $0.isLive,
                leaseLeftSeconds: max(0, $0.leaseLeft.inSeconds), stopReason: $0.stopReason,
                workers: $0.liveWorkers, jobsHeld: $0.jobsHeld, thisNode: $0.id == view.thisNode.id)
        }
    }
}

/// `POST /api/cluster/nodes/{name}/forget`: what forgetting the node did, or would do.
struct ForgottenNodeResource: Encodable {
    var name: String
    var dryRun: Bool
    var incarnations: [String]
    var released: [Int64]
    var refetched: [Int64]
    var cleaned: [Int64]
    var lost: [Int64]

    init(name: String, dryRun: Bool, report: ForgottenNode) {
        self.name = name
        self.dryRun = dryRun
        incarnations = report.incarnations
        released = report.released.map(\.rawValue)
        refetched = report.refetched.map(\.rawValue)
        cleaned = report.cleaned.map(\.rawValue)
        lost = report.lost.map(\.rawValue)
    }
}
