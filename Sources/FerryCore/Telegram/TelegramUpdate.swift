/// One Bot API update as a telegram worker read it: the chat and message it came from and the
/// work it carries. The worker only parses; the supervisor decides what becomes a download.
public struct TelegramUpdate: Hashable, Sendable, Codable {
    public var updateID: Int64
    /// Nil for updates that are not messages (edits, member changes, …): recorded, nothing to do.
    public var chatID: Int64?
    public var messageID: Int64?
    public var items: [TelegramItem]
    /// The sender asked for the media again even if this chat sent it before (`/force` caption).
    public var forced: Bool

    public init(
        updateID: Int64, chatID: Int64? = nil, messageID: Int64? = nil, items: [TelegramItem] = [],
        forced: Bool = false
    ) {
        self.updateID = updateID
        self.chatID = chatID
        self.messageID = messageID
        self.items = items
        self.forced = forced
    }
}

/// One piece of work in a message: a file kept by Telegram, or an http(s) link.
public struct TelegramItem: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case document, video, audio, photo, animation, link
    }

    public var kind: Kind
    /// The Bot API's handle for fetching the file (media only).
    public var fileID: String?
    /// The same for every copy of the same file, whatever message carries it (media only).
    public var fileUniqueID: String?
    public var fileName: String?
    public var mimeType: String?
    public var fileSize: Int64?
    /// The link (links only).
    public var url: String?

    public init(
        kind: Kind, fileID: String? = nil, fileUniqueID: String? = nil, fileName: String? = nil,
        mimeType: String? = nil, fileSize: Int64? = nil, url: String? = nil
    ) {
        self.kind = kind
        self.fileID = fileID
        self.fileUniqueID = fileUniqueID
        self.fileName = fileName
        self.mimeType = mimeType
        self.fileSize = fileSize
        self.url = url
    }

    public static func link(_ url: String) -> TelegramItem { TelegramItem(kind: .link, url: url) }
}

/// Updates a telegram worker received from one bot, to be recorded in one transaction.
public struct TelegramBatch: Hashable, Sendable, Codable {
    public var bot: String
    public var updates: [TelegramUpdate]

    public init(bot: String, updates: [TelegramUpdate]) {
        self.bot = bot
        self.updates = updates
    }
}

/// The supervisor's answer to a batch: the offset the worker may now acknowledge to Telegram
/// (everything below it is recorded), or why nothing was recorded (then the batch is read again).
public struct TelegramCommit: Hashable, Sendable, Codable {
    public var bot: String
    public var offset: Int64?
    public var error: String?

    public init(bot: String, offset: Int64?, error: String? = nil) {
        self.bot = bot
        self.offset = offset
        self.error = error
    }
}
