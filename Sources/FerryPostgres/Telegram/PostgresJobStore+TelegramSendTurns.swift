public import FerryCore
import Logging
import PostgresNIO

/// Telegram's flood control on the database's clock, shared by every node (see
/// `PostgresTelegramSendTurnsSchema`); the spacings are the caller's (`TelegramSendTurns`'s).
extension PostgresJobStore {
    /// Takes the bot's turn to send to the chat if it is due (nil: send now); otherwise returns
    /// how long to wait before asking again.
    public func takeTelegramTurn(
        bot: String, chat: Int64, chatSpacing: Duration, botSpacing: Duration, furthest: Duration
    ) async throws(StoreError) -> Duration? {
        let logger = logger
        let wait = try await single { connection in
            try await connection.row(
                """
                SELECT ferry_take_telegram_turn(\(bot), \(chat), \(chatSpacing.inMilliseconds),
                    \(botSpacing.inMilliseconds), \(furthest.inMilliseconds))
                """, logger)?.value(0, as: Int64?.self)
        }
        return wait.map { .milliseconds($0) }
    }

    /// Holds the bot's chat for `wait` (a 429's `retry_after`) for every node.
    public func holdTelegramChat(
        bot: String, chat: Int64, for wait: Duration, furthest: Duration
    )
        async throws(StoreError)
    {
        let logger = logger
        try await single { connection in
            try await connection.run(
                """
                SELECT ferry_hold_telegram_chat(\(bot), \(chat), \(wait.inMilliseconds), \(furthest.inMilliseconds))
                """, logger)
        }
    }
}
