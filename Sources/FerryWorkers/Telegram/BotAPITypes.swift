import Foundation

/// The parts of the Bot API's objects Ferry reads (https://core.telegram.org/bots/api), decoded
/// from snake_case (``decoder``).
enum BotAPI {
    /// Decodes the Bot API's snake_case fields into these camelCase ones.
    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    struct Answer<Result: Decodable>: Decodable {
        var ok: Bool
        var result: Result?
        var description: String?
        var errorCode: Int?
        var parameters: Parameters?
    }

    struct Parameters: Decodable {
        var retryAfter: Int?
    }

    struct Update: Decodable {
        var updateId: Int64
        var message: Message?
        var channelPost: Message?
    }

    struct Message: Decodable {
        var messageId: Int64
        var chat: Chat
        var text: String?
        var caption: String?
        var entities: [Entity]?
        var document: FileObject?
        var video: FileObject?
        var audio: FileObject?
        var animation: FileObject?
        var photo: [FileObject]?
    }

    struct Chat: Decodable {
        var id: Int64
    }

    struct Entity: Decodable {
        var type: String
        var url: String?
    }

    /// Document, video, audio, animation and photo size share these fields.
    struct FileObject: Decodable {
        var fileId: String
        var fileUniqueId: String
        var fileName: String?
        var mimeType: String?
        var fileSize: Int64?
        var width: Int?
        var height: Int?
    }

    struct File: Decodable {
        var fileId: String
        var fileSize: Int64?
        var filePath: String?
    }

    /// A message a bot sent: its id, and the file_id of what it carries.
    struct SentMessage: Decodable {
        var messageId: Int64
        var document: FileObject?
        var video: FileObject?
        var audio: FileObject?

        func fileID(_ field: String) -> String? {
            switch field {
            case "video": video?.fileId
            case "audio": audio?.fileId
            default: document?.fileId
            }
        }
    }

    /// What editMessageText answers: the edited message, or true for an inline one.
    enum Edited: Decodable {
        case message(SentMessage)
        case done(Bool)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                self = .done(flag)
            } else {
                self = .message(try container.decode(SentMessage.self))
            }
        }
    }
}
