/// What recording a batch of updates did, in the transaction that moved the bot's offset.
public struct TelegramIntake: Hashable, Sendable {
    /// The bot's offset after the batch: every update below it is recorded.
    public var offset: Int64
    /// Downloads created for the batch, in message order.
    public var created: [JobID]
    /// Media this chat had sent before (same file_unique_id), not fetched again.
    public var duplicates: Int
    /// Updates from chats that may not send work.
    public var ignored: Int
    /// Updates recorded by an earlier batch (a worker that died before it acknowledged them).
    public var alreadyRecorded: Int

    public init(offset: Int64, created: [JobID], duplicates: Int, ignored: Int, alreadyRecorded: Int) {
        self.offset = offset
        self.created = created
        self.duplicates = duplicates
        self.ignored = ignored
        self.alreadyRecorded = alreadyRecorded
    }
}
