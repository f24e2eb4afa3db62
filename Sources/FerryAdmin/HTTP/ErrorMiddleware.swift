import Hummingbird
import Logging

/// Turns every error into the API's JSON error body: ours as they are, Hummingbird's by status
/// (404 for an unknown route, 413 for a body over the limit), anything else as a 500 whose
/// details go to the log and never to the client.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AdminContext
    let logger: Logger
    let routes: KnownRoutes

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            if error.status == .notFound, let allow = routes.allowHeader(for: request.uri.path) {
                return try APIError(
                    .methodNotAllowed, "method_not_allowed",
                    "\(request.method.rawValue) is not supported on \(request.uri.path); use \(allow)",
                    headers: [.allow: allow]
                ).response(from: request, context: context)
            }
            return try Self.translate(error, request).response(from: request, context: context)
        } catch {
            logger.error(
                "a request failed unexpectedly",
                metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
            return try APIError(
                .internalServerError, "internal", "the request could not be completed; the daemon's log says why"
            ).response(from: request, context: context)
        }
    }

    static func translate(_ error: HTTPError, _ request: Request) -> APIError {
        switch error.status {
        case .notFound:
            return APIError(.notFound, "not_found", "no such endpoint: \(request.uri.path); see /api/openapi.json")
        case .contentTooLarge:
            return APIError(
                .contentTooLarge, "body_too_large", "the request body is over \(AdminContext.bodyLimit) bytes")
        default:
            let code = error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
            return APIError(error.status, code, error.body ?? error.status.reasonPhrase)
        }
    }
}
