import FerryCore
import Foundation

/// A bot's token, read from its file when needed. It is never written anywhere: not in a record,
/// a message to the supervisor, a log line or an error (``redacted(_:)`` removes it from texts
/// that might quote a URL).
struct BotToken: Sendable {
    let value: String

    /// Reads the token; the error names the file, never its content.
    static func read(for bot: TelegramBot) throws(JobFailure) -> BotToken {
        guard let data = FileManager.default.contents(atPath: bot.tokenFile) else {
            throw .retryable(
                "telegram_token_unreadable",
                "cannot read the token file \(bot.tokenFile) of bot '\(bot.name)' (telegram.bots.\(bot.name).token_file)"
            )
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty, !token.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            throw .permanent(
                "telegram_token_invalid",
                "the token file \(bot.tokenFile) of bot '\(bot.name)' does not hold one token on one line")
        }
        return BotToken(value: token)
    }

    /// `text` with every occurrence of the token replaced.
    func redacted(_ text: String) -> String {
        text.replacingOccurrences(of: value, with: "<token>")
    }

    func redacted(_ failure: JobFailure) -> JobFailure {
        var failure = failure
        failure.message = redacted(failure.message)
        return failure
    }
}
