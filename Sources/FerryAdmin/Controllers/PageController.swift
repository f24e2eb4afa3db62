import HTTPTypes
import Hummingbird

/// `GET /`: the admin page, one self-contained file (no external assets, works offline)
/// compiled into the binary from Sources/FerryAdmin/Page/admin.html.
struct PageController {
    func register(in routes: RouteRegistry) {
        routes.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [
                    .contentType: "text/html; charset=utf-8", .cacheControl: "no-cache",
                    // Nothing but this page's own inline code and same-origin API calls.
                    .contentSecurityPolicy:
                        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                        + "connect-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
                    HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.admin_html)))
        }
    }
}
