/// Where a download that came through a bot came from, as the API shows it.
public struct TelegramSource: Hashable, Sendable {
    public var bot: String
    public var chatID: Int64
    public var messageID: Int64
    public var updateID: Int64
    public var item: TelegramItem

    public init(bot: String, chatID: Int64, messageID: Int64, updateID: Int64, item: TelegramItem) {
        self.bot = bot
        self.chatID = chatID
        self.messageID = messageID
        self.updateID = updateID
        self.item = item
    }
}
