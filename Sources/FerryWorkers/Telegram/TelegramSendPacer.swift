/// Spaces a worker's sends as Telegram asks: about one a second to a chat, twenty a minute to a
/// group or channel, thirty a second in all; and holds a chat after a 429 for its `retry_after`.
actor TelegramSendPacer {
    static let shared = TelegramSendPacer()
    /// The earliest time each chat may be sent to again.
    private var nextTurn: [Int64: ContinuousClock.Instant] = [:]
    /// The earliest time any send may go out again.
    private var nextAnyTurn = ContinuousClock.now

    func waitForTurn(chat: Int64) async {
        let now = ContinuousClock.now
        let turn = max(now, nextTurn[chat] ?? now, nextAnyTurn)
        // Group and channel ids are negative.
        nextTurn[chat] = turn + (chat < 0 ? .seconds(3) : .seconds(1))
        nextAnyTurn = turn + .milliseconds(34)
        if turn > now { try? await Task.sleep(until: turn, clock: .continuous) }
    }

    func hold(chat: Int64, for wait: Duration) {
        nextTurn[chat] = max(nextTurn[chat] ?? .now, .now + wait)
    }
}
