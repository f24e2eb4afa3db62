import FerryCore
import Foundation
import Hummingbird

/// `GET /api/cluster`: every node on the shared queue (PostgreSQL); 404 on the SQLite store.
/// `POST /api/cluster/nodes/{name}/forget`: forgets a node that will not come back, as `ferry
/// cluster forget` does; `{"dry_run": true}` reports what it would do and changes nothing, and a
/// real forget must repeat the node's name as `confirm` (it cannot be undone).
struct ClusterController {
    let dependencies: AdminDependencies

    func register(in routes: RouteRegistry) {
        routes.get("/api/cluster") { _, _ in try await show() }
        routes.post("/api/cluster/nodes/:name/forget") { request, context in try await forget(request, context) }
    }

    static let notClustered = APIError(
        .notFound, "not_clustered",
        "this daemon runs on the SQLite store, alone: there is no cluster (set database.url to run nodes on PostgreSQL)"
    )

    private func show() async throws -> Response {
        guard let view = await ClusterView.read(dependencies.supervisor) else { throw Self.notClustered }
        do {
            return try JSONResponse.make(ClusterResource(view, nodes: try view.nodes.get()))
        } catch let error as StoreError {
            throw APIError.from(error)
        }
    }
}

extension ClusterController {
    struct ForgetBody: APIBody {
        static let fields: Set<String> = ["dry_run", "confirm"]
        var dryRun: Bool?
        var confirm: String?
    }

    private func forget(_ request: Request, _ context: AdminContext) async throws -> Response {
        guard let shared = dependencies.supervisor.served.shared else { throw Self.notClustered }
        let name = context.parameters.get("name") ?? ""
        let body = try await JSONResponse.decode(ForgetBody.self, from: request, context: context)
        let dryRun = body.dryRun ?? false
        guard dryRun || body.confirm == name else {
            throw APIError(
                .badRequest, "confirmation_required",
                "forgetting node \(name) cannot be undone: send {\"confirm\": \"\(name)\"} to do it, or {\"dry_run\": true} to see what it would do"
            )
        }
        let report: ForgottenNode
        do {
            report = try await shared.forgetNode(named: name, dryRun: dryRun)
        } catch {
            throw APIError.from(error)
        }
        if !dryRun {
            dependencies.logger.notice(
                "node forgotten through the admin API",
                metadata: [
                    "node": "\(name)", "incarnations": "\(report.incarnations.joined(separator: ","))",
                    "refetched": "\(report.refetched.count)", "lost": "\(report.lost.count)",
                ])
        }
        return try JSONResponse.make(ForgottenNodeResource(name: name, dryRun: dryRun, report: report))
    }
}
