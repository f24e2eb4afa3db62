public import FerryCore
import Foundation
import Logging
import PostgresNIO

extension PostgresJobStore {
    public func recordTelegramUpdates(
        _ batch: TelegramBatch, bot: TelegramBot
    ) async throws(StoreError)
        -> TelegramIntake
    {
        guard batch.bot == bot.name else {
            throw StoreError(.invalidInput, "a batch of bot '\(batch.bot)' was recorded as bot '\(bot.name)'")
        }
        let now = nowMilliseconds
        let policy = configuration.retryPolicies.download
        let logger = logger
        return try await write { connection in
            try await connection.run(
                "INSERT INTO telegram_bots (name) VALUES (\(bot.name)) ON CONFLICT (name) DO NOTHING", logger)
            // The bot's row stays locked until the batch commits: one intake per bot at a time.
            let stored = try await connection.row(
                "SELECT next_offset, user_id FROM telegram_bots WHERE name = \(bot.name) FOR UPDATE", logger)
            // Another Telegram bot behind the same name (a new token) counts its updates from scratch.
            let switched = (try stored?.value(1, as: Int64.self) ?? 0) != batch.botUserID
            let recorded = switched ? 0 : (try stored?.value(0, as: Int64.self) ?? 0)
            let plan = TelegramIntakePlan(batch, bot: bot, recordedOffset: recorded)
            var created: [JobID] = []
            var duplicates = 0
            for planned in plan.downloads {
                if let unique = planned.item.fileUniqueID, !planned.forced {
                    let seen = try await connection.row(
                        """
                        SELECT 1 FROM telegram_sources
                        WHERE bot = \(bot.name) AND chat_id = \(planned.chatID) AND file_unique_id = \(unique) AND NOT forced
                        """, logger)
                    if seen != nil {
                        duplicates += 1
                        continue
                    }
                }
                let enqueued = try await Self.insertDownload(
                    connection, try planned.request.normalized(), policy: policy, now: now, logger)
                let item = planned.item
                let isMedia = item.kind != .link
                try await connection.run(
                    """
                    INSERT INTO telegram_sources (job_id, bot, bot_user_id, update_id, item, chat_id, message_id,
                        media_kind, file_id, file_unique_id, file_name, mime_type, file_size, forced)
                    VALUES (\(enqueued.job.id.rawValue), \(bot.name), \(batch.botUserID), \(planned.updateID),
                        \(planned.itemIndex), \(planned.chatID), \(planned.messageID), \(item.kind.rawValue),
                        \(isMedia ? item.fileID : nil), \(isMedia ? item.fileUniqueID : nil), \(item.fileName),
                        \(item.mimeType), \(item.fileSize), \(planned.forced && isMedia))
                    """, logger)
                created.append(enqueued.job.id)
            }
            let fresh = batch.updates.count - plan.alreadyRecorded
            try await connection.run(
                """
                UPDATE telegram_bots SET user_id = \(batch.botUserID),
                    next_offset = CASE WHEN \(switched) THEN \(plan.offset) ELSE GREATEST(next_offset, \(plan.offset)) END,
                    updates = updates + \(fresh), ignored = ignored + \(plan.ignored),
                    duplicates = duplicates + \(duplicates),
                    last_update_at = CASE WHEN \(fresh) > 0 THEN \(now) ELSE last_update_at END
                WHERE name = \(bot.name)
                """, logger)
            return TelegramIntake(
                offset: switched ? plan.offset : max(plan.offset, recorded), created: created, duplicates: duplicates,
                ignored: plan.ignored, alreadyRecorded: plan.alreadyRecorded)
        }
    }

    public func telegramSources(of ids: [JobID]) async throws(StoreError) -> [JobID: TelegramSource] {
        guard !ids.isEmpty else { return [:] }
        let logger = logger
        return try await read { connection in
            var sources: [JobID: TelegramSource] = [:]
            let rows = try await connection.rows(
                """
                SELECT job_id, bot, chat_id, message_id, update_id, media_kind, file_id, file_unique_id, file_name,
                    mime_type, file_size
                FROM telegram_sources WHERE job_id = ANY(\(ids.map(\.rawValue)))
                """, logger)
            for row in rows {
                let item = TelegramItem(
                    kind: TelegramItem.Kind(rawValue: try row.value(5, as: String.self)) ?? .document,
                    fileID: try row.value(6), fileUniqueID: try row.value(7), fileName: try row.value(8),
                    mimeType: try row.value(9), fileSize: try row.value(10))
                sources[JobID(try row.value(0, as: Int64.self))] = TelegramSource(
                    bot: try row.value(1), chatID: try row.value(2), messageID: try row.value(3),
                    updateID: try row.value(4), item: item)
            }
            return sources
        }
    }

    public func recordTelegramReply(_ replyMessageID: Int64, for job: JobID) async throws(StoreError) {
        let logger = logger
        try await write(jobID: job) { connection in
            try await connection.run(
                "UPDATE telegram_sources SET reply_message_id = \(replyMessageID) WHERE job_id = \(job.rawValue)",
                logger)
        }
    }

    public func telegramReply(for job: JobID) async throws(StoreError) -> TelegramReply? {
        let logger = logger
        return try await read(jobID: job) { connection in
            guard
                let row = try await connection.row(
                    "SELECT bot, chat_id, message_id, reply_message_id FROM telegram_sources WHERE job_id = \(job.rawValue)",
                    logger)
            else { return nil }
            return TelegramReply(
                bot: try row.value(0), job: job, chatID: try row.value(1), messageID: try row.value(2),
                replyMessageID: try row.value(3), text: "")
        }
    }

    public func telegramBotRecords() async throws(StoreError) -> [TelegramBotRecord] {
        let logger = logger
        return try await read { connection in
            try await connection.rows(
                """
                SELECT b.name, b.next_offset, b.updates, b.ignored, b.duplicates, b.last_update_at,
                    (SELECT count(*) FROM telegram_sources s JOIN jobs j ON j.id = s.job_id
                     WHERE s.bot = b.name AND j.state IN ('queued', 'running', 'paused'))
                FROM telegram_bots b ORDER BY b.name
                """, logger
            ).map { row in
                TelegramBotRecord(
                    name: try row.value(0), offset: try row.value(1), updates: Int(try row.value(2, as: Int64.self)),
                    ignored: Int(try row.value(3, as: Int64.self)), duplicates: Int(try row.value(4, as: Int64.self)),
                    lastUpdateAt: try row.optionalDate(5), backlog: Int(try row.value(6, as: Int64.self)))
            }
        }
    }
}
