import HTTPTypes
import Hummingbird

/// Guards every request that can change state (anything but GET and HEAD), and every read of
/// jobs, uploads, videos, events and workers:
///
/// - a browser on another site cannot trigger a change: a cross-site `Sec-Fetch-Site`, or an
///   `Origin` that is not this server, is refused (browsers send both on every cross-origin POST,
///   and a JSON body needs a CORS preflight that this server never grants);
/// - when a token is configured (always, when the listener is not loopback-only), the request
///   must carry it as `Authorization: Bearer …`, compared in constant time. Reads need it too,
///   except the page itself, health, readiness, `/metrics`, the metrics history and the OpenAPI
///   document, which alerting tools and load balancers scrape without credentials: records name
///   URLs, files and errors, which are the operator's business only.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = AdminContext
    let token: AdminToken?

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        if request.method == .get || request.method == .head {
            if let token, !Self.isOpenToEveryone(request.uri.path) { try Self.check(request, against: token) }
            return try await next(request, context)
        }
        if let site = request.headers[Self.fetchSite], site == "cross-site" || site == "same-site" {
            throw Self.crossSite
        }
        if let origin = request.headers[.origin], !Self.isSameOrigin(origin, authority: request.head.authority) {
            throw Self.crossSite
        }
        if let token { try Self.check(request, against: token) }
        return try await next(request, context)
    }

    /// The reads anyone who can reach the port may make: the page (which asks for the token
    /// before it reads anything), health and readiness, metrics and the API's description.
    static func isOpenToEveryone(_ path: String) -> Bool {
        path == "/" || path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/api/openapi.json"
            || path == "/api/metrics/history" || path == "/api/health/system" || path == "/api/health/sync"
    }

    private static func check(_ request: Request, against token: AdminToken) throws {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            token.matches(String(header.dropFirst("Bearer ".count)))
        else {
            let what = request.method == .get || request.method == .head ? "reads records" : "changes state"
            throw APIError(
                .unauthorized, "unauthorized",
                "this request \(what) and needs the bearer token from http.token_file: "
                    + "send Authorization: Bearer <token>",
                headers: [.wwwAuthenticate: #"Bearer realm="ferry""#])
        }
    }

    static let fetchSite = HTTPField.Name("Sec-Fetch-Site")!

    static let crossSite = APIError(
        .forbidden, "cross_site_request", "state-changing requests from another site's pages are refused")

    /// Whether `origin` (`scheme://host[:port]`) names the host and port the request was sent to.
    static func isSameOrigin(_ origin: String, authority: String?) -> Bool {
        guard let authority, let separator = origin.range(of: "://") else { return false }
        let host = origin[separator.upperBound...]
        return host.lowercased() == authority.lowercased()
    }
}
