import Hummingbird

/// Registers routes on a Hummingbird router and remembers which methods each path takes, so a
/// known path asked with another method answers 405 with an `Allow` header instead of 404.
final class RouteRegistry {
    let router: Router<AdminContext>
    /// Paths in registration order with their methods.
    private var paths: [(path: String, methods: [HTTPRequest.Method])] = []

    init(router: Router<AdminContext>) {
        self.router = router
    }

    func get(
        _ path: String, use handler: @escaping @Sendable (Request, AdminContext) async throws -> Response
    ) {
        on(path, .get, use: handler)
    }

    func post(
        _ path: String, use handler: @escaping @Sendable (Request, AdminContext) async throws -> Response
    ) {
        on(path, .post, use: handler)
    }

    private func on(
        _ path: String, _ method: HTTPRequest.Method,
        use handler: @escaping @Sendable (Request, AdminContext) async throws -> Response
    ) {
        router.on(RouterPath(path), method: method, use: handler)
        if let index = paths.firstIndex(where: { $0.path == path }) {
            paths[index].methods.append(method)
        } else {
            paths.append((path, [method]))
        }
    }

    /// Answers every other method on a known path with 405; call once all routes are in.
    func refuseOtherMethods() {
        let all: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .options]
        for (path, methods) in paths {
            var allowed = methods
            if methods.contains(.get) { allowed.append(.head) }
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            for method in all where !allowed.contains(method) {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    throw APIError(
                        .methodNotAllowed, "method_not_allowed",
                        "\(request.method.rawValue) is not supported on \(path); use \(allow)",
                        headers: [.allow: allow])
                }
            }
        }
    }
}
