/// A message a bot posts or edits in a chat about a download that came from it: "queued" as a
/// reply to the sender's message, then edited in place to "done" or the error.
public struct TelegramReply: Hashable, Sendable, Codable {
    public var bot: String
    public var job: JobID
    public var chatID: Int64
    /// The sender's message, which a new reply answers.
    public var messageID: Int64
    /// The bot's own reply, once posted: it is edited instead of posting another.
    public var replyMessageID: Int64?
    public var text: String

    public init(bot: String, job: JobID, chatID: Int64, messageID: Int64, replyMessageID: Int64? = nil, text: String) {
        self.bot = bot
        self.job = job
        self.chatID = chatID
        self.messageID = messageID
        self.replyMessageID = replyMessageID
        self.text = text
    }
}
