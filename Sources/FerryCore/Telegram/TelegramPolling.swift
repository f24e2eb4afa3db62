/// The bots a telegram worker long-polls. Telegram lets one `getUpdates` run per bot (a second
/// one ends the first with 409 Conflict), so on a shared queue each bot is polled by one node,
/// and the other nodes' telegram workers only post replies.
public struct TelegramPolling: Hashable, Sendable, Codable {
    /// Bot names, as configured.
    public var bots: [String]

    public init(bots: [String]) {
        self.bots = bots.sorted()
    }
}
