/// Updates a telegram worker received from one bot, to be recorded in one transaction.
public struct TelegramBatch: Hashable, Sendable, Codable {
    public var bot: String
    /// Telegram's id of the bot behind the token (its part before the colon; 0 when unknown).
    /// Update ids count per Telegram bot: a token of another bot under the same name starts over.
    public var botUserID: Int64
    public var updates: [TelegramUpdate]

    public init(bot: String, botUserID: Int64 = 0, updates: [TelegramUpdate]) {
        self.bot = bot
        self.botUserID = botUserID
        self.updates = updates
    }
}
