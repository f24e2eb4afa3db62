/// Spaces sends to each chat as Telegram asks (about one a second to a chat, twenty a minute to
/// a group) and holds a chat after a 429, for every send of this worker.
actor TelegramSendPacer {
    static let shared = TelegramSendPacer()
    private var nextTurn: [Int64: ContinuousClock.Instant] = [:]

    func waitForTurn(chat: Int64) async {
        let now = ContinuousClock.now
        let turn = max(now, nextTurn[chat] ?? now)
        // Group and channel ids are negative.
        nextTurn[chat] = turn + (chat < 0 ? .seconds(3) : .seconds(1))
        if turn > now { try? await Task.sleep(until: turn, clock: .continuous) }
    }

    func hold(chat: Int64, for wait: Duration) async {
        nextTurn[chat] = max(nextTurn[chat] ?? .now, .now + wait)
    }
}
