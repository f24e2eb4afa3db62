public import FerryCore
import Foundation
internal import GRDB

extension SQLiteJobStore {
    public func recordTelegramUpdates(
        _ batch: TelegramBatch, bot: TelegramBot
    ) async throws(StoreError) -> TelegramIntake {
        guard batch.bot == bot.name else {
            throw StoreError(.invalidInput, "a batch of bot '\(batch.bot)' was recorded as bot '\(bot.name)'")
        }
        let now = nowMilliseconds
        let policy = configuration.retryPolicies.download
        return try await write { db in
            try db.execute(
                sql: "INSERT INTO telegram_bots (name) VALUES (?) ON CONFLICT (name) DO NOTHING", arguments: [bot.name])
            let stored = try Row.fetchOne(
                db, sql: "SELECT next_offset, user_id FROM telegram_bots WHERE name = ?", arguments: [bot.name])
            // Another Telegram bot behind the same name (a new token) counts its updates from scratch.
            let switched = (stored?["user_id"] as Int64? ?? 0) != batch.botUserID
            let recorded = switched ? 0 : (stored?["next_offset"] as Int64? ?? 0)
            let plan = TelegramIntakePlan(batch, bot: bot, recordedOffset: recorded)
            var created: [JobID] = []
            var duplicates = 0
            for planned in plan.downloads {
                if let unique = planned.item.fileUniqueID, !planned.forced,
                    try Self.hasMedia(db, bot: bot.name, chat: planned.chatID, unique: unique)
                {
                    duplicates += 1
                    continue
                }
                let enqueued = try Self.insertDownload(
                    db, try planned.request.normalized(), policy: policy, now: now)
                try Self.insertSource(db, job: enqueued.job.id, bot: bot.name, botUserID: batch.botUserID, planned)
                created.append(enqueued.job.id)
            }
            let fresh = batch.updates.count - plan.alreadyRecorded
            try db.execute(
                sql: """
                    UPDATE telegram_bots SET user_id = ?, next_offset = CASE WHEN ? THEN ? ELSE max(next_offset, ?) END,
                        updates = updates + ?,
                        ignored = ignored + ?, duplicates = duplicates + ?,
                        last_update_at = CASE WHEN ? > 0 THEN ? ELSE last_update_at END
                    WHERE name = ?
                    """,
                arguments: [
                    batch.botUserID, switched, plan.offset, plan.offset, fresh, plan.ignored, duplicates, fresh, now,
                    bot.name,
                ])
            return TelegramIntake(
                offset: switched ? plan.offset : max(plan.offset, recorded), created: created, duplicates: duplicates,
                ignored: plan.ignored,
                alreadyRecorded: plan.alreadyRecorded)
        }
    }

    public func telegramSources(of ids: [JobID]) async throws(StoreError) -> [JobID: TelegramSource] {
        guard !ids.isEmpty else { return [:] }
        return try await read { db in
            var sources: [JobID: TelegramSource] = [:]
            for chunk in ids.map(\.rawValue).chunked(into: 500) {
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT job_id, bot, chat_id, message_id, update_id, media_kind, file_id, file_unique_id,
                            file_name, mime_type, file_size
                        FROM telegram_sources WHERE job_id IN (\(chunk.map { _ in "?" }.joined(separator: ",")))
                        """,
                    arguments: StatementArguments(chunk))
                for row in rows {
                    let item = TelegramItem(
                        kind: TelegramItem.Kind(rawValue: row["media_kind"]) ?? .document, fileID: row["file_id"],
                        fileUniqueID: row["file_unique_id"], fileName: row["file_name"], mimeType: row["mime_type"],
                        fileSize: row["file_size"])
                    sources[JobID(row["job_id"] as Int64)] = TelegramSource(
                        bot: row["bot"], chatID: row["chat_id"], messageID: row["message_id"],
                        updateID: row["update_id"], item: item)
                }
            }
            return sources
        }
    }

    public func recordTelegramReply(_ replyMessageID: Int64, for job: JobID) async throws(StoreError) {
        try await write(jobID: job) { db in
            try db.execute(
                sql: "UPDATE telegram_sources SET reply_message_id = ? WHERE job_id = ?",
                arguments: [replyMessageID, job.rawValue])
        }
    }

    public func telegramReply(for job: JobID) async throws(StoreError) -> TelegramReply? {
        try await read(jobID: job) { db in
            try Row.fetchOne(
                db,
                sql: "SELECT bot, chat_id, message_id, reply_message_id FROM telegram_sources WHERE job_id = ?",
                arguments: [job.rawValue]
            ).map { row in
                TelegramReply(
                    bot: row["bot"], job: job, chatID: row["chat_id"], messageID: row["message_id"],
                    replyMessageID: row["reply_message_id"], text: "")
            }
        }
    }

    public func telegramBotRecords() async throws(StoreError) -> [TelegramBotRecord] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT b.name, b.next_offset, b.updates, b.ignored, b.duplicates, b.last_update_at,
                        (SELECT count(*) FROM telegram_sources s JOIN jobs j ON j.id = s.job_id
                         WHERE s.bot = b.name AND j.state IN ('queued', 'running', 'paused')) AS backlog
                    FROM telegram_bots b ORDER BY b.name
                    """
            ).map { row in
                TelegramBotRecord(
                    name: row["name"], offset: row["next_offset"], updates: row["updates"], ignored: row["ignored"],
                    duplicates: row["duplicates"],
                    lastUpdateAt: (row["last_update_at"] as Int64?).map(Date.init(storeMilliseconds:)),
                    backlog: row["backlog"])
            }
        }
    }

    /// Whether this chat has sent this media through this bot before (and not forced it again).
    static func hasMedia(_ db: Database, bot: String, chat: Int64, unique: String) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM telegram_sources
                WHERE bot = ? AND chat_id = ? AND file_unique_id = ? AND forced = 0)
                """,
            arguments: [bot, chat, unique]) ?? false
    }

    static func insertSource(
        _ db: Database, job: JobID, bot: String, botUserID: Int64, _ planned: TelegramIntakePlan.Planned
    ) throws {
        let item = planned.item
        let isMedia = item.kind != .link
        try db.execute(
            sql: """
                INSERT INTO telegram_sources (job_id, bot, bot_user_id, update_id, item, chat_id, message_id,
                    media_kind, file_id, file_unique_id, file_name, mime_type, file_size, forced)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                job.rawValue, bot, botUserID, planned.updateID, planned.itemIndex, planned.chatID, planned.messageID,
                item.kind.rawValue, isMedia ? item.fileID : nil, isMedia ? item.fileUniqueID : nil, item.fileName,
                item.mimeType, item.fileSize,
                // A forced copy may repeat; an unforced one is what the unique index guards.
                planned.forced && isMedia,
            ])
    }
}
