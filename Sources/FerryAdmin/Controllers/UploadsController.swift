import FerryCore
import Hummingbird

/// `GET /api/uploads` (every delivery, with the same filters and paging as `GET /api/downloads`)
/// and `GET /api/targets` (the configured upload targets, for the page's submit form).
struct UploadsController {
    let dependencies: AdminDependencies

    func register(in routes: RouteRegistry) {
        routes.get("/api/uploads") { request, _ in
            try await JobListing(dependencies: dependencies).page(of: .upload, request)
        }
        routes.get("/api/targets") { _, _ in
            try JSONResponse.make(TargetList(targets: dependencies.uploadTargets.sorted()))
        }
    }

    struct TargetList: Encodable {
        var targets: [String]
    }
}
