public import Foundation

/// What the store knows of a bot: how far it has read and what is left to fetch.
public struct TelegramBotRecord: Hashable, Sendable {
    public var name: String
    /// Every update below it is recorded.
    public var offset: Int64
    public var updates: Int
    public var ignored: Int
    public var duplicates: Int
    public var lastUpdateAt: Date?
    /// Downloads from this bot still waiting or running.
    public var backlog: Int

    public init(
        name: String, offset: Int64, updates: Int, ignored: Int, duplicates: Int, lastUpdateAt: Date?, backlog: Int
    ) {
        self.name = name
        self.offset = offset
        self.updates = updates
        self.ignored = ignored
        self.duplicates = duplicates
        self.lastUpdateAt = lastUpdateAt
        self.backlog = backlog
    }
}
