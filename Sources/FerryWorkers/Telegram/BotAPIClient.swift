import AsyncHTTPClient
import FerryCore
import Foundation
import NIOCore

/// Calls Bot API methods of one bot. Errors say what Telegram answered, never the request URL
/// (it holds the token).
struct BotAPIClient {
    let bot: TelegramBot
    let token: BotToken
    let client: HTTPClient

    /// A Bot API answer that is not a result.
    struct Failure: Error {
        /// The HTTP status, or nil when no answer came.
        var status: Int?
        var description: String
        /// Flood control: how long Telegram asked us to wait.
        var retryAfter: Duration?
        /// No answer came, but the request may have reached Telegram (the connection broke after
        /// it was sent): a send may have been taken.
        var mayHaveArrived = false

        var isRetryable: Bool {
            guard let status else { return true }
            return status == 429 || status >= 500
        }
    }

    /// Calls `method` with its parameters as a form body and decodes its result.
    func call<Result: Decodable>(
        _ method: String, _ parameters: [(String, String)], as: Result.Type, timeout: Duration = .seconds(30)
    ) async throws(Failure) -> Result {
        try await call(
            method, body: .bytes(ByteBuffer(string: Self.form(parameters))),
            contentType: "application/x-www-form-urlencoded", as: Result.self, timeout: timeout)
    }

    /// Calls `method` with a body of its own (a multipart upload) and decodes its result.
    func call<Result: Decodable>(
        _ method: String, body: HTTPClientRequest.Body, contentType: String, as: Result.Type, timeout: Duration
    ) async throws(Failure) -> Result {
        var request = HTTPClientRequest(url: "\(bot.baseURL)/bot\(token.value)/\(method)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "User-Agent", value: "ferry/\(FerryVersion.current)")
        request.body = body
        let status: Int
        let answerBody: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: .milliseconds(timeout.inMilliseconds))
            status = Int(response.status.code)
            answerBody = try await response.body.collect(upTo: 16 << 20)
        } catch {
            throw Failure(
                status: nil, description: token.redacted("no answer from \(bot.baseURL): \(error)"),
                mayHaveArrived: !Self.neverConnected(error))
        }
        let answer: BotAPI.Answer<Result>
        do {
            answer = try BotAPI.decoder.decode(BotAPI.Answer<Result>.self, from: Data(answerBody.readableBytesView))
        } catch {
            throw Failure(
                status: status,
                description: "\(bot.baseURL) answered \(method) with HTTP \(status) and no Bot API answer")
        }
        guard answer.ok, let result = answer.result else {
            throw Failure(
                status: answer.errorCode ?? status,
                description: token.redacted(answer.description ?? "\(method) failed with HTTP \(status)"),
                retryAfter: answer.parameters?.retryAfter.map { .seconds($0) })
        }
        return result
    }

    /// Whether a failed request certainly never reached the server (no connection was made).
    static func neverConnected(_ error: any Error) -> Bool {
        if let client = error as? HTTPClientError, client == .connectTimeout { return true }
        if let channel = error as? ChannelError, case .connectTimeout = channel { return true }
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED { return true }
        return false
    }

    /// Where Telegram serves a file `getFile` returned (public API, or a local server without --local).
    func fileURL(_ filePath: String) -> String {
        "\(bot.baseURL)/file/bot\(token.value)/\(filePath)"
    }

    static func form(_ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return parameters.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
    }
}
