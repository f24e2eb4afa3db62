public import Foundation

/// The wire format of the supervisor–worker channel: one JSON object per line,
/// `{"v": 1, "type": "heartbeat", "body": {…}}`. Versioned, so a worker from another build is
/// refused at its hello instead of misunderstood later.
public enum MessageCodec {
    /// A line longer than this is a protocol violation (a runaway or hostile peer), not a message.
    public static let maximumLineLength = 1 << 20

    public static func encode(_ message: WorkerMessage) -> Data {
        switch message {
        case .hello(let body): line("hello", body)
        case .heartbeat(let body): line("heartbeat", body)
        case .progress(let body): line("progress", body)
        case .outcome(let body): line("outcome", body)
        case .cleanupFindings(let body): line("cleanup_findings", body)
        case .telegramUpdates(let body): line("telegram_updates", body)
        case .telegramStatus(let body): line("telegram_status", body)
        case .telegramReplied(let body): line("telegram_replied", body)
        }
    }

    public static func encode(_ message: SupervisorMessage) -> Data {
        switch message {
        case .assign(let body): line("assign", body)
        case .cancel(let id, let reason): line("cancel", Cancel(job: id, reason: reason))
        case .drain: line("drain", Empty())
        case .shutdown: line("shutdown", Empty())
        case .cleanup(let body): line("cleanup", body)
        case .telegramCommitted(let body): line("telegram_committed", body)
        case .telegramReply(let body): line("telegram_reply", body)
        }
    }

    /// Decodes one line a worker wrote.
    public static func decodeWorkerMessage(_ line: some Collection<UInt8>) throws(ProtocolError) -> WorkerMessage {
        let (type, body) = try envelope(line)
        switch type {
        case "hello": return .hello(try decode(body, as: WorkerMessage.Hello.self, type: type))
        case "heartbeat": return .heartbeat(try decode(body, as: WorkerMessage.Heartbeat.self, type: type))
        case "progress": return .progress(try decode(body, as: WorkerMessage.Progress.self, type: type))
        case "outcome": return .outcome(try decode(body, as: WorkerMessage.Outcome.self, type: type))
        case "cleanup_findings": return .cleanupFindings(try decode(body, as: CleanupFindings.self, type: type))
        case "telegram_updates": return .telegramUpdates(try decode(body, as: TelegramBatch.self, type: type))
        case "telegram_status": return .telegramStatus(try decode(body, as: TelegramBotStatus.self, type: type))
        case "telegram_replied": return .telegramReplied(try decode(body, as: TelegramReply.self, type: type))
        default: throw ProtocolError(.unknownType, "a worker sent a message of unknown type '\(type)'")
        }
    }

    /// Decodes one line the supervisor wrote.
    public static func decodeSupervisorMessage(
        _ line: some Collection<UInt8>
    ) throws(ProtocolError)
        -> SupervisorMessage
    {
        let (type, body) = try envelope(line)
        switch type {
        case "assign": return .assign(try decode(body, as: SupervisorMessage.Assignment.self, type: type))
        case "cancel":
            let cancel = try decode(body, as: Cancel.self, type: type)
            return .cancel(cancel.job, reason: cancel.reason)
        case "drain": return .drain
        case "shutdown": return .shutdown
        case "cleanup": return .cleanup(try decode(body, as: CleanupOrder.self, type: type))
        case "telegram_committed": return .telegramCommitted(try decode(body, as: TelegramCommit.self, type: type))
        case "telegram_reply": return .telegramReply(try decode(body, as: TelegramReply.self, type: type))
        default: throw ProtocolError(.unknownType, "the supervisor sent a message of unknown type '\(type)'")
        }
    }

    // MARK: Framing

    private struct Envelope<Body: Encodable>: Encodable {
        var v: Int
        var type: String
        var body: Body
    }

    private struct Header: Decodable {
        var v: Int
        var type: String
    }

    private struct BodyOnly<Body: Decodable>: Decodable {
        var body: Body
    }

    private struct Cancel: Codable {
        var job: JobID
        var reason: String
    }

    private struct Empty: Codable {}

    private static func line(_ type: String, _ body: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        // Encoding our own value types cannot fail; a failure here is a programming error.
        var data = try! encoder.encode(Envelope(v: FerryVersion.protocolVersion, type: type, body: body))
        data.append(0x0A)
        return data
    }

    private static func envelope(_ line: some Collection<UInt8>) throws(ProtocolError) -> (String, Data) {
        guard line.count <= maximumLineLength else {
            throw ProtocolError(.tooLong, "a message of \(line.count) bytes exceeds the limit of \(maximumLineLength)")
        }
        let data = Data(line)
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: data)
        } catch {
            let preview = String(decoding: data.prefix(120), as: UTF8.self)
            throw ProtocolError(.malformed, "not a protocol message: \(preview)")
        }
        guard header.v == FerryVersion.protocolVersion else {
            throw ProtocolError(
                .versionMismatch,
                "protocol version \(header.v) received, this build speaks \(FerryVersion.protocolVersion)")
        }
        return (header.type, data)
    }

    private static func decode<Body: Decodable>(
        _ data: Data, as: Body.Type, type: String
    ) throws(ProtocolError)
        -> Body
    {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        do {
            return try decoder.decode(BodyOnly<Body>.self, from: data).body
        } catch {
            throw ProtocolError(.malformed, "a '\(type)' message has a malformed body: \(error)")
        }
    }
}

/// A line on a control channel that is not a valid message. The supervisor logs it and restarts
/// the worker that sent it; it never crashes.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let malformed = Code(rawValue: "malformed")
        public static let unknownType = Code(rawValue: "unknown_type")
        public static let versionMismatch = Code(rawValue: "version_mismatch")
        public static let tooLong = Code(rawValue: "too_long")
        /// A valid message at the wrong time (a second hello, an outcome for a job not held).
        public static let unexpected = Code(rawValue: "unexpected")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) [\(code.rawValue)]" }
}
