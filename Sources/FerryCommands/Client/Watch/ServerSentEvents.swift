import AsyncHTTPClient
import Foundation
import NIOCore

/// One event of the admin API's `/api/events` stream.
struct ServerSentEvent: Sendable, Equatable {
    var event: String
    var data: String
    var id: String?

    /// The data as a JSON object.
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
    }
}

/// Splits a `text/event-stream` body into events, as the HTML standard's parser does for the
/// fields Ferry sends (`event`, `data`, `id`; comments and `retry` are skipped).
struct ServerSentEventParser {
    private var buffer = ""

    /// Feeds a chunk of the body; returns the events it completed.
    mutating func feed(_ chunk: String) -> [ServerSentEvent] {
        buffer += chunk.replacingOccurrences(of: "\r\n", with: "\n")
        var events: [ServerSentEvent] = []
        while let end = buffer.range(of: "\n\n") {
            let frame = buffer[..<end.lowerBound]
            buffer.removeSubrange(..<end.upperBound)
            var event = ServerSentEvent(event: "message", data: "", id: nil)
            var data: [Substring] = []
            for line in frame.split(separator: "\n", omittingEmptySubsequences: false) {
                guard !line.hasPrefix(":"), let colon = line.firstIndex(of: ":") else { continue }
                var value = line[line.index(after: colon)...]
                if value.hasPrefix(" ") { value = value.dropFirst() }
                switch line[..<colon] {
                case "event": event.event = String(value)
                case "data": data.append(value)
                case "id": event.id = String(value)
                default: break
                }
            }
            guard !data.isEmpty else { continue }
            event.data = data.joined(separator: "\n")
            events.append(event)
        }
        return events
    }
}

extension AdminAPIClient {
    /// Follows `/api/events` from now on, calling `connected` once the daemon has accepted the
    /// stream (every transition from then on will arrive) and `handle` for every event, until the
    /// stream ends or the task is cancelled. Returns normally when the daemon closes the stream.
    func followEvents(
        connected: @Sendable () async -> Void, _ handle: @Sendable (ServerSentEvent) async -> Void
    ) async throws {
        var request = HTTPClientRequest(url: baseURL + "/api/events")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        // The stream sends a keep-alive comment at least every 15 s; a minute of silence is a dead daemon.
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(2), read: .seconds(60))))
        let outcome: Result<Void, any Error>
        do {
            let response = try await http.execute(request, timeout: .hours(24 * 365))
            guard response.status == .ok else {
                let body = try await response.body.collect(upTo: 1 << 20)
                throw StreamRefused(status: Int(response.status.code), body: String(buffer: body))
            }
            await connected()
            var parser = ServerSentEventParser()
            for try await chunk in response.body {
                for event in parser.feed(String(buffer: chunk)) { await handle(event) }
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        try? await http.shutdown()
        try outcome.get()
    }

    /// The daemon answered the event stream with an error.
    struct StreamRefused: Error {
        var status: Int
        var body: String
    }
}
