import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// Serves the admin router on HTTP/1.1 as Hummingbird's `Application` does, minus its date
/// cache: that is a task waking every second to format a `Date` header for responses that may
/// never come, and an idle daemon must sleep (issue 17: at most one wake-up a second). The header
/// is formatted when a response goes out instead.
struct AdminHTTPServer: Service {
    let responder: RouterResponder<AdminContext>
    let configuration: ServerConfiguration
    let logger: Logger
    let onServerRunning: @Sendable (any Channel) async -> Void

    /// A parse error met while the response was being written: the connection is closed (thrown
    /// as a parse error instead, it would make the server write a second response).
    struct ParseErrorWhileWriting: Error {}

    func run() async throws {
        let responder = responder
        let logger = logger
        let serverName = configuration.serverName
        let server = try HTTPServerBuilder.http1().buildServer(
            configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
            responder: { (request, responseWriter: consuming ResponseWriter, channel) in
                let context = AdminContext(source: .init(channel: channel, logger: logger))
                var response: Response
                do {
                    response = try await responder.respond(to: request, context: context)
                } catch let error as HTTPParserError {
                    throw error
                } catch {
                    logger.debug("unrecognised error", metadata: ["error": "\(error)"])
                    response = Response(status: .internalServerError)
                }
                response.headers[.date] = HTTPDate.now()
                if let serverName { response.headers[.server] = serverName }
                do {
                    try await responseWriter.write(response: response.head, body: response.body)
                } catch is HTTPParserError {
                    throw ParseErrorWhileWriting()
                }
            },
            onServerRunning: onServerRunning)
        try await server.run()
    }
}

/// The `Date` header's IMF-fixdate (RFC 9110), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, in English
/// whatever the locale.
enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func now() -> String { format(time(nil)) }

    static func format(_ seconds: time_t) -> String {
        var clock = seconds
        var parts = tm()
        gmtime_r(&clock, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
