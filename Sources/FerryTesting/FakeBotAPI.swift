public import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The fake Telegram Bot API in `BotAPI/fake_bot_api.py`, on loopback: a bot's getUpdates,
/// getFile, file downloads and sends, faults on request, and control endpoints through which a
/// test plays the chat (see the script's header). No test reaches Telegram.
public final class FakeBotAPI: @unchecked Sendable {
    let process = Process()
    public let port: Int
    /// The token the fake bot accepts.
    public let token: String

    /// A file the fake server keeps, as a message refers to it.
    public struct File: Decodable, Sendable {
        public var fileID: String
        public var fileUniqueID: String
        public var fileSize: Int

        enum CodingKeys: String, CodingKey {
            case fileID = "file_id"
            case fileUniqueID = "file_unique_id"
            case fileSize = "file_size"
        }
    }

    /// A message the bot sent: a file, or a text (with its latest text and how often it was edited).
    public struct Sent: Decodable, Sendable {
        public var method: String
        public var chatID: String?
        public var messageID: Int
        public var fileName: String?
        public var size: Int?
        public var sha256: String?
        public var caption: String?
        public var text: String?
        /// The message a text answered.
        public var replyTo: Int?
        public var edits: Int?
        /// A file's send: every other field it carried (duration, width, thumbnail, …).
        public var fields: [String: String]?
        /// A file's send: each file part by its field (the file, a thumbnail).
        public var parts: [String: Part]?

        enum CodingKeys: String, CodingKey {
            case method, size, sha256, caption, text, edits, fields, parts
            case chatID = "chat_id"
            case messageID = "message_id"
            case fileName = "file_name"
            case replyTo = "reply_to"
        }
    }

    /// A file part of a send.
    public struct Part: Decodable, Sendable {
        public var fileName: String
        public var size: Int
        public var sha256: String
        public var contentType: String

        enum CodingKeys: String, CodingKey {
            case size, sha256
            case fileName = "file_name"
            case contentType = "content_type"
        }
    }

    /// What the server has seen.
    public struct State: Decodable, Sendable {
        /// Every update below it was confirmed by a getUpdates offset, and is gone for good.
        public var confirmedOffset: Int
        /// Updates not confirmed yet.
        public var pending: Int
        /// The update ids getUpdates answered, in order (repeated when asked again unconfirmed).
        public var delivered: [Int]
        public var sent: [Sent]
        public var calls: [String: Int]
        /// Every file download, in order: its path, Range header and answer's status.
        public var fileRequests: [FileRequest]
        /// getUpdates calls ended with 409 Conflict by a later one (two pollers of one bot).
        public var conflicts: Int

        enum CodingKeys: String, CodingKey {
            case pending, delivered, sent, calls, conflicts
            case confirmedOffset = "confirmed_offset"
            case fileRequests = "file_requests"
        }
    }

    public struct FileRequest: Decodable, Sendable {
        public var path: String
        public var range: String?
        public var status: Int
    }

    /// - Parameter localFolder: behave as a local Bot API server run with `--local`, keeping files
    ///   in this folder and answering their absolute paths.
    public init(token: String = "123456:TEST-token-\(UUID().uuidString.prefix(8))", localFolder: String? = nil) throws {
        self.token = token
        port = try LoopbackScript.start(
            process, script: "BotAPI/fake_bot_api.py",
            arguments: ["--token", token] + (localFolder.map { ["--local", $0] } ?? []))
    }

    /// The base URL to configure as the bot's `base_url`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Makes a file of `size` bytes of ``TestOrigin/content(size:seed:)``.
    public func addFile(size: Int, seed: Int = 0) async throws -> File {
        try JSONDecoder().decode(File.self, from: try await control("file", ["size": size, "seed": seed]))
    }

    /// Makes a file of these bytes.
    public func addFile(_ data: Data) async throws -> File {
        try JSONDecoder().decode(File.self, from: try await control("file", ["base64": data.base64EncodedString()]))
    }

    /// Queues an update carrying `message` (a Bot API Message as JSON); returns its update id.
    @discardableResult
    public func receive(_ message: [String: any Sendable]) async throws -> Int {
        let data = try await control("update", ["message": message])
        let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return answer?["update_id"] as? Int ?? -1
    }

    /// Makes the next `count` calls of `method` fail: with `status` (and `retryAfter` for 429),
    /// or by a cut connection (`cut`), or by a cut after the work was done (`cutAfter`), or by an
    /// answer `stallAfter` seconds late; file downloads (`"file"`) by a cut after `cutAfterBytes`
    /// of the body.
    public func fault(
        _ method: String, count: Int = 1, status: Int? = nil, retryAfter: Int = 1, cut: Bool = false,
        cutAfter: Bool = false, cutAfterBytes: Int? = nil, stallAfter: Int? = nil
    ) async throws {
        var body: [String: any Sendable] = ["method": method, "count": count, "retry_after": retryAfter]
        if let cutAfterBytes { body["cut_after_bytes"] = cutAfterBytes }
        if let stallAfter { body["stall_after"] = stallAfter }
        if let status { body["status"] = status }
        if cut { body["cut"] = true }
        if cutAfter { body["cut_after"] = true }
        _ = try await control("fault", body)
    }

    public func state() async throws -> State {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "\(baseURL)/control/state")!)
        return try JSONDecoder().decode(State.self, from: data)
    }

    private func control(_ what: String, _ body: [String: any Sendable]) async throws -> Data {
        var request = URLRequest(url: URL(string: "\(baseURL)/control/\(what)")!)
        request.httpMethod = "POST"
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, _) = try await URLSession.shared.data(for: request)
        return data
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
