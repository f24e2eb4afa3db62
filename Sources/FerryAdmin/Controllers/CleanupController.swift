import FerryCore
import FerryStore
import FerrySupervisor
import Foundation
import Hummingbird

/// `POST /api/health/sync/cleanup` starts a cleanup run (or returns the one under way) and
/// `GET /api/cleanup/runs/{id}` shows a run with what it found and did.
struct CleanupController {
    let dependencies: AdminDependencies

    func register(in routes: RouteRegistry) {
        routes.post("/api/health/sync/cleanup") { request, context in try await start(request, context) }
        routes.get("/api/cleanup/runs/:id") { _, context in try await show(context) }
    }

    struct StartBody: APIBody {
        static let fields: Set<String> = ["dry_run"]
        var dryRun: Bool?
    }

    private func start(_ request: Request, _ context: AdminContext) async throws -> Response {
        // The body is optional: no body means a real (not dry) run.
        let hasBody = request.headers[.contentLength].map { $0 != "0" } ?? (request.headers[.transferEncoding] != nil)
        let body = hasBody ? try await JSONResponse.decode(StartBody.self, from: request, context: context) : nil
        let run: CleanupRun
        let started: Bool
        do {
            (run, started) = try await dependencies.supervisor.requestCleanup(dryRun: body?.dryRun ?? false)
        } catch {
            throw APIError.from(error)
        }
        return try JSONResponse.make(CleanupStart(run: run, started: started), status: started ? .accepted : .ok)
    }

    private func show(_ context: AdminContext) async throws -> Response {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int64(text), id > 0 else { throw APIError.notFound("cleanup run \"\(text)\"") }
        let found: CleanupRun?
        do {
            found = try await dependencies.supervisor.served.cleanup.cleanupRun(id)
        } catch {
            throw APIError.from(error)
        }
        guard let run = found else { throw APIError.notFound("cleanup run \(id)") }
        return try JSONResponse.make(run)
    }
}

/// The answer to a cleanup request: the run, and whether this request started it.
struct CleanupStart: Encodable {
    var run: CleanupRun
    var started: Bool
}
