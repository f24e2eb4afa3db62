import Hummingbird

/// `GET /api/openapi.json`: the OpenAPI 3.1 document of this API, compiled into the binary from
/// Sources/FerryAdmin/OpenAPI/openapi.json (the copy the tests validate).
struct DocumentsController {
    func register(in routes: RouteRegistry) {
        routes.get("/api/openapi.json") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_json)))
        }
    }
}
