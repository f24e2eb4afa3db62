import FerryCore
import Logging

/// Records a telegram worker's batch of updates and says what offset it may acknowledge. The
/// answer is sent only after the store committed, so Telegram forgets an update only once Ferry
/// has it; a refused batch answers no offset, and the worker reads the same updates again.
struct TelegramRecorder {
    let store: any JobStore
    let logger: Logger

    /// The answer for the worker, and the downloads the batch created.
    func record(_ batch: TelegramBatch, bots: [TelegramBot]) async -> (commit: TelegramCommit, created: [JobID]) {
        guard let bot = bots.first(where: { $0.name == batch.bot }) else {
            logger.error(
                "a telegram worker sent updates of a bot that is not configured", metadata: ["bot": "\(batch.bot)"])
            return (TelegramCommit(bot: batch.bot, offset: nil, error: "the bot '\(batch.bot)' is not configured"), [])
        }
        do {
            let intake = try await store.recordTelegramUpdates(batch, bot: bot)
            if !intake.created.isEmpty || intake.ignored > 0 || intake.duplicates > 0 {
                logger.info(
                    "telegram updates recorded",
                    metadata: [
                        "bot": "\(bot.name)", "offset": "\(intake.offset)", "downloads": "\(intake.created.count)",
                        "ignored": "\(intake.ignored)", "duplicates": "\(intake.duplicates)",
                    ])
            }
            return (TelegramCommit(bot: bot.name, offset: intake.offset), intake.created)
        } catch {
            logger.error(
                "could not record telegram updates; the worker reads them again",
                metadata: ["bot": "\(bot.name)", "error": "\(error)"])
            return (TelegramCommit(bot: bot.name, offset: nil, error: error.code.rawValue), [])
        }
    }
}
