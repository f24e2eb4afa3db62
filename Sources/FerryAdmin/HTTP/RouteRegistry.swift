import Hummingbird

/// Collects the API's routes first and installs them on a router afterwards, so the error
/// middleware (which must be added before the routes) already knows every path: a known path
/// asked with another method answers 405 with `Allow`, whatever the method, instead of 404.
final class RouteRegistry {
    typealias Handler = @Sendable (Request, AdminContext) async throws -> Response
    private var routes: [(path: String, method: HTTPRequest.Method, handler: Handler)] = []

    func get(_ path: String, use handler: @escaping Handler) { routes.append((path, .get, handler)) }

    func post(_ path: String, use handler: @escaping Handler) { routes.append((path, .post, handler)) }

    /// The paths and their methods, for 405 answers.
    var knownRoutes: KnownRoutes {
        var methods: [String: [HTTPRequest.Method]] = [:]
        for route in routes { methods[route.path, default: []].append(route.method) }
        return KnownRoutes(entries: methods.map { KnownRoutes.Entry(pattern: $0.key, methods: $0.value) })
    }

    func install(on router: Router<AdminContext>) {
        for route in routes { router.on(RouterPath(route.path), method: route.method, use: route.handler) }
    }
}

/// Every route pattern (`/api/jobs/:id/retry`) with the methods it takes.
struct KnownRoutes: Sendable {
    struct Entry: Sendable {
        var pattern: String
        var methods: [HTTPRequest.Method]
    }

    var entries: [Entry]

    /// The `Allow` header for a path that exists with other methods; nil for an unknown path.
    func allowHeader(for path: String) -> String? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        for entry in entries {
            let pattern = entry.pattern.split(separator: "/", omittingEmptySubsequences: true)
            guard pattern.count == segments.count,
                zip(pattern, segments).allSatisfy({ $0.hasPrefix(":") || $0 == $1 })
            else { continue }
            var allowed = entry.methods.map(\.rawValue)
            if entry.methods.contains(.get) { allowed.append("HEAD") }
            return allowed.joined(separator: ", ")
        }
        return nil
    }
}
