public import Foundation

/// Whether a telegram worker can reach a bot's Bot API, as it last found out; sent to the
/// supervisor when it changes, for health and the admin page.
public struct TelegramBotStatus: Hashable, Sendable, Codable {
    public var bot: String
    public var reachable: Bool
    /// What went wrong (never with the token in it).
    public var problem: String?
    public var at: Date

    public init(bot: String, reachable: Bool, problem: String? = nil, at: Date = Date()) {
        self.bot = bot
        self.reachable = reachable
        self.problem = problem
        self.at = at
    }
}
