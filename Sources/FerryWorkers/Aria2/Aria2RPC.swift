import AsyncHTTPClient
import Foundation
import NIOCore

/// aria2's JSON-RPC interface over HTTP on loopback, authenticated by the secret generated for
/// the running aria2c. Every call is one POST; the engine polls, so no WebSocket is kept open.
struct Aria2RPC: Sendable {
    let port: Int
    let secret: String
    let client: HTTPClient
    /// The longest a call waits for its answer: a hung aria2c must not hold up the rounds.
    var timeout: Duration = .seconds(10)

    /// An error aria2 answered with (the call reached it), as opposed to a connection failure.
    struct Refusal: Error, CustomStringConvertible {
        var code: Int
        var message: String
        var description: String { "aria2 refused the call (\(code)): \(message)" }

        /// "GID … is not unique": a re-add found the task already there.
        var isDuplicateGID: Bool { message.contains("is not unique") }
        /// "InfoHash … is already registered": a re-added torrent is already there.
        var isDuplicateInfoHash: Bool { message.contains("already registered") }
        /// "GID … is not found" (or "No such download"): aria2 does not have the task.
        var isUnknownGID: Bool { message.contains("is not found") || message.contains("No such download") }
    }

    private struct Answer<Value: Decodable>: Decodable {
        struct Failure: Decodable {
            var code: Int
            var message: String
        }

        var result: Value?
        var error: Failure?
    }

    /// One parameter of a call: the few shapes aria2's methods take.
    enum Parameter: Encodable, Sendable {
        case text(String)
        case number(Int)
        case texts([String])
        case options([String: String])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let value): try container.encode(value)
            case .number(let value): try container.encode(value)
            case .texts(let value): try container.encode(value)
            case .options(let value): try container.encode(value)
            }
        }
    }

    private struct Request: Encodable {
        var jsonrpc = "2.0"
        var id = "ferry"
        var method: String
        var params: [Parameter]
    }

    /// Calls `method` with `parameters` (after the secret) and decodes its result.
    func call<Value: Decodable>(
        _ method: String, _ parameters: [Parameter] = [], as type: Value.Type = Value.self
    ) async throws -> Value {
        let body = Request(method: "aria2.\(method)", params: [.text("token:\(secret)")] + parameters)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/jsonrpc")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await client.execute(request, timeout: .milliseconds(timeout.inMilliseconds))
        let data = try await response.body.collect(upTo: 64 << 20)
        let answer = try JSONDecoder().decode(Answer<Value>.self, from: Data(data.readableBytesView))
        if let failure = answer.error { throw Refusal(code: failure.code, message: failure.message) }
        guard let result = answer.result else { throw Refusal(code: -1, message: "an answer without a result") }
        return result
    }

    /// Every task aria2 has: active, waiting and stopped (the newest 1,000 of these).
    func allTasks() async throws -> [Aria2Task] {
        let keys = Parameter.texts(Aria2Task.keys)
        async let active: [Aria2Task] = call("tellActive", [keys])
        async let waiting: [Aria2Task] = call("tellWaiting", [.number(0), .number(1000), keys])
        async let stopped: [Aria2Task] = call("tellStopped", [.number(0), .number(1000), keys])
        return try await active + waiting + stopped
    }
}
