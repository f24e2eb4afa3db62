import AsyncHTTPClient
import FerryConfig
import Foundation
import NIOCore
import NIOHTTP1

/// The client side of the admin API, for `ferry status`, `ferry jobs …` and `ferry enqueue`: the
/// address and token come from the same configuration the daemon reads.
struct AdminAPIClient {
    let baseURL: String
    let token: String?

    struct Answer {
        var status: Int
        var body: String

        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
    }

    init(configuration: FerryConfiguration, url: String?) throws {
        let http = configuration.http
        // A daemon listening on every address is still reached here over loopback.
        let host =
            switch http.address {
            case "0.0.0.0", "": "127.0.0.1"
            case "::": "[::1]"
            case let address where address.contains(":"): "[\(address)]"
            case let address: address
            }
        baseURL = url ?? "http://\(host):\(http.port)"
        if http.tokenFile.isEmpty {
            token = nil
        } else {
            do {
                token = try String(contentsOfFile: http.tokenFile, encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                Terminal.error(
                    "cannot read the admin token from \(http.tokenFile) (http.token_file): \(error.localizedDescription)"
                )
                throw ExitStatus.config
            }
        }
    }

    func get(_ path: String) async throws -> Answer { try await send(.GET, path) }

    func post(_ path: String, json: [String: Any]? = nil, headers: [(String, String)] = []) async throws -> Answer {
        let body = try json.map { try JSONSerialization.data(withJSONObject: $0) }
        return try await send(.POST, path, body: body, headers: headers)
    }

    private func send(
        _ method: HTTPMethod, _ path: String, body: Data? = nil, headers: [(String, String)] = []
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        // A client of its own with a short connect timeout: a daemon that is not running must
        // be reported at once, not after the pool has retried a refused connection for 10 s.
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(2), read: .seconds(15))))
        let result: Result<Answer, any Error>
        do {
            let response = try await http.execute(request, timeout: .seconds(15))
            let buffer = try await response.body.collect(upTo: 64 * 1024 * 1024)
            result = .success(Answer(status: Int(response.status.code), body: String(buffer: buffer)))
        } catch {
            result = .failure(error)
        }
        try? await http.shutdown()
        switch result {
        case .success(let answer):
            return answer
        case .failure(let error):
            Terminal.error(
                "Ferry is not answering at \(baseURL) (\(Self.describe(error))). Is the daemon running? "
                    + "Start it with `systemctl start ferry` or `ferry serve`, or point to it with --url.")
            throw ExitStatus.unavailable
        }
    }

    private static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("connectTimeout") || text.contains("connect timeout") { return "connection timed out" }
        if text.contains("refused") || text.contains("ECONNREFUSED") { return "connection refused" }
        return text
    }

    /// Fails the command with the API's own error message when the answer is not a success.
    @discardableResult
    func expectSuccess(_ answer: Answer) throws -> Answer {
        guard (200..<300).contains(answer.status) else {
            let error = answer.object["error"] as? [String: Any]
            let message = error?["message"] as? String ?? "HTTP \(answer.status)"
            Terminal.error("\(message) (\(error?["code"] as? String ?? "http_\(answer.status)"))")
            throw answer.status == 401 || answer.status == 403 ? ExitStatus.noPermission : ExitStatus.failure
        }
        return answer
    }
}
