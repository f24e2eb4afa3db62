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
