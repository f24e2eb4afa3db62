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
        case .telegramPoll(let body): line("telegram_poll", body)
        }
    }

    /// Decodes one line a worker wrote.
    public static func decodeWorkerMessage(_ line: some Collection<UInt8>) throws(ProtocolError) -> WorkerMessage {
        try decode(line, as: WorkerLine.self).message
    }

    /// Decodes one line the supervisor wrote.
    public static func decodeSupervisorMessage(
        _ line: some Collection<UInt8>
    ) throws(ProtocolError)
        -> SupervisorMessage
    {
        try decode(line, as: SupervisorLine.self).message
    }

    /// A worker's line, read in one pass: the version, then the type, then the body as that type.
    private struct WorkerLine: Decodable {
        var message: WorkerMessage

        init(from decoder: any Decoder) throws {
            let line = try Line(decoder)
            message =
                switch line.type {
                case "hello": .hello(try line.body(WorkerMessage.Hello.self))
                case "heartbeat": .heartbeat(try line.body(WorkerMessage.Heartbeat.self))
                case "progress": .progress(try line.body(WorkerMessage.Progress.self))
                case "outcome": .outcome(try line.body(WorkerMessage.Outcome.self))
                case "cleanup_findings": .cleanupFindings(try line.body(CleanupFindings.self))
                case "telegram_updates": .telegramUpdates(try line.body(TelegramBatch.self))
                case "telegram_status": .telegramStatus(try line.body(TelegramBotStatus.self))
                case "telegram_replied": .telegramReplied(try line.body(TelegramReply.self))
                default:
                    throw ProtocolError(.unknownType, "a worker sent a message of unknown type '\(line.type)'")
                }
        }
    }

    /// The supervisor's line, read in one pass.
    private struct SupervisorLine: Decodable {
        var message: SupervisorMessage

        init(from decoder: any Decoder) throws {
            let line = try Line(decoder)
            switch line.type {
            case "assign": message = .assign(try line.body(SupervisorMessage.Assignment.self))
            case "cancel":
                let cancel = try line.body(Cancel.self)
                message = .cancel(cancel.job, reason: cancel.reason)
            case "drain": message = .drain
            case "shutdown": message = .shutdown
            case "cleanup": message = .cleanup(try line.body(CleanupOrder.self))
            case "telegram_committed": message = .telegramCommitted(try line.body(TelegramCommit.self))
            case "telegram_reply": message = .telegramReply(try line.body(TelegramReply.self))
            case "telegram_poll": message = .telegramPoll(try line.body(TelegramPolling.self))
            default: throw ProtocolError(.unknownType, "the supervisor sent a message of unknown type '\(line.type)'")
            }
        }
    }

    /// The envelope of a line: its version is checked before anything else is read.
    private struct Line {
        enum Key: String, CodingKey { case v, type, body }

        let container: KeyedDecodingContainer<Key>
        let type: String

        init(_ decoder: any Decoder) throws {
            container = try decoder.container(keyedBy: Key.self)
            let version = try container.decode(Int.self, forKey: .v)
            guard version == FerryVersion.protocolVersion else {
                throw ProtocolError(
                    .versionMismatch,
                    "protocol version \(version) received, this build speaks \(FerryVersion.protocolVersion)")
            }
            type = try container.decode(String.self, forKey: .type)
        }

        func body<Body: Decodable>(_: Body.Type) throws -> Body {
            do {
                return try container.decode(Body.self, forKey: .body)
            } catch {
                throw ProtocolError(.malformed, "a '\(type)' message has a malformed body: \(error)")
            }
        }
    }

    // MARK: Framing

    private struct Envelope<Body: Encodable>: Encodable {
        var v: Int
        var type: String
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

    private static func decode<Message: Decodable>(
        _ line: some Collection<UInt8>, as: Message.Type
    ) throws(ProtocolError) -> Message {
        guard line.count <= maximumLineLength else {
            throw ProtocolError(.tooLong, "a message of \(line.count) bytes exceeds the limit of \(maximumLineLength)")
        }
        let data = Data(line)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        do {
            return try decoder.decode(Message.self, from: data)
        } catch let error as ProtocolError {
            throw error
        } catch {
            let preview = String(decoding: data.prefix(120), as: UTF8.self)
            throw ProtocolError(.malformed, "not a protocol message: \(preview)")
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
