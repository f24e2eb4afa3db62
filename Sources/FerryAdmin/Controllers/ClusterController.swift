import FerryCore
import Foundation
import Hummingbird

/// `GET /api/cluster`: every node on the shared queue (PostgreSQL); 404 on the SQLite store.
struct ClusterController {
    let dependencies: AdminDependencies

    func register(in routes: RouteRegistry) {
        routes.get("/api/cluster") { _, _ in try await show() }
    }

    private func show() async throws -> Response {
        guard let view = await ClusterView.read(dependencies.supervisor) else {
            throw APIError(
                .notFound, "not_clustered",
                "this daemon runs on the SQLite store, alone: there is no cluster (set database.url to run nodes on PostgreSQL)"
            )
        }
        do {
            return try JSONResponse.make(ClusterResource(view, nodes: try view.nodes.get()))
        } catch let error as StoreError {
            throw APIError.from(error)
        }
    }
}
