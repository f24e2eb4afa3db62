/// Updates a telegram worker received from one bot, to be recorded in one transaction.
public struct TelegramBatch: Hashable, Sendable, Codable {
    public var bot: String
    public var updates: [TelegramUpdate]

    public init(bot: String, updates: [TelegramUpdate]) {
        self.bot = bot
        self.updates = updates
    }
}
