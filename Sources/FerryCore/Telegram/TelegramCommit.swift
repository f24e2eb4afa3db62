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
