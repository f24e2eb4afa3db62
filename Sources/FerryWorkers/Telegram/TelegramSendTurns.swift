/// When each chat of each bot may next be sent to, as Telegram's flood control asks: about one
/// message a second to a chat, twenty a minute to a group or channel, thirty a second in all per
/// bot, and nothing to a chat that a 429 holds until its `retry_after` has passed.
///
/// A value without I/O: ``TelegramSendPacer`` keeps it in a file that every Ferry process sending
/// through the bots shares. A turn is taken only when it is due, never reserved ahead, so a
/// process that dies while it waits wastes nobody's turn. Times are wall-clock milliseconds since
/// 1970 (every process reads the same clock); a time further ahead than ``furthestTurn`` is taken
/// for a clock that jumped back and forgotten.
struct TelegramSendTurns: Equatable {
    /// The earliest time each chat may be sent to again, by `<bot>/<chat>`, and each bot (by
    /// `<bot>/*`) may send at all.
    private(set) var next: [String: Int64] = [:]

    /// Between two messages to a private chat.
    static let chatSpacing: Int64 = 1000
    /// Between two messages to a group or channel (whose ids are negative): twenty a minute.
    static let groupSpacing: Int64 = 3000
    /// Between any two messages of one bot: thirty a second.
    static let botSpacing: Int64 = 34
    /// No pacing or hold reaches this far ahead (a 429 of more than a minute becomes a scheduled
    /// retry), so such a time means the clock went back.
    static let furthestTurn: Int64 = 10 * 60 * 1000

    init() {}

    /// Reads the file's text: a line `<key> <milliseconds>` per key; anything else is skipped.
    init(text: String) {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let at = Int64(fields[1]) else { continue }
            next[String(fields[0])] = at
        }
    }

    /// The file's text, without the times that are past.
    func text(now: Int64) -> String {
        next.filter { $0.value > now }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
    }

    /// Takes the bot's turn to send to the chat if it is due (nil: send now); otherwise changes
    /// nothing and returns when to ask again.
    mutating func take(bot: String, chat: Int64, now: Int64) -> Int64? {
        let chatKey = "\(bot)/\(chat)"
        let botKey = "\(bot)/*"
        let due = max(valid(chatKey, now: now), valid(botKey, now: now))
        guard due <= now else { return due }
        next[chatKey] = now + (chat < 0 ? Self.groupSpacing : Self.chatSpacing)
        next[botKey] = now + Self.botSpacing
        return nil
    }

    /// Holds a bot's chat until `until` (a 429's `retry_after` from now).
    mutating func hold(bot: String, chat: Int64, until: Int64, now: Int64) {
        let key = "\(bot)/\(chat)"
        next[key] = max(valid(key, now: now), until)
    }

    private func valid(_ key: String, now: Int64) -> Int64 {
        guard let at = next[key], at - now <= Self.furthestTurn else { return now }
        return at
    }
}
