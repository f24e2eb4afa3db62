/// Migration `v8-telegram-bot-id`: update ids count per Telegram bot, so a bot name that is
/// pointed at another bot's token must start a count of its own.
///
/// - `telegram_bots.user_id` is Telegram's id of the bot behind the token (the token's part
///   before the colon, not a secret); the offset may move back only when it changes.
/// - `telegram_sources.bot_user_id` joins the key of an update's items, so the other bot's update
///   3 is not taken for the first bot's; the table is rebuilt for that, since a table's UNIQUE
///   constraint cannot be altered in place.
enum SchemaV8 {
    static let identifier = "v8-telegram-bot-id"

    static let sql = """
        ALTER TABLE telegram_bots ADD COLUMN user_id INTEGER NOT NULL DEFAULT 0;
        DROP TRIGGER telegram_bots_offset_forward;
        CREATE TRIGGER telegram_bots_offset_forward BEFORE UPDATE OF next_offset ON telegram_bots
            WHEN NEW.next_offset < OLD.next_offset AND NEW.user_id = OLD.user_id
        BEGIN
            SELECT RAISE(ABORT, 'a bot''s update offset never moves back');
        END;

        CREATE TABLE telegram_sources_v8 (
            job_id INTEGER PRIMARY KEY REFERENCES downloads(job_id) ON DELETE CASCADE,
            bot TEXT NOT NULL REFERENCES telegram_bots(name),
            bot_user_id INTEGER NOT NULL DEFAULT 0,
            update_id INTEGER NOT NULL CHECK (update_id >= 0),
            item INTEGER NOT NULL CHECK (item >= 0),
            chat_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            media_kind TEXT NOT NULL
                CHECK (media_kind IN ('document', 'video', 'audio', 'photo', 'animation', 'link')),
            file_id TEXT CHECK (file_id IS NULL OR length(file_id) BETWEEN 1 AND 1024),
            file_unique_id TEXT CHECK (file_unique_id IS NULL OR length(file_unique_id) BETWEEN 1 AND 256),
            file_name TEXT,
            mime_type TEXT,
            file_size INTEGER CHECK (file_size IS NULL OR file_size >= 0),
            forced INTEGER NOT NULL DEFAULT 0 CHECK (forced = 0 OR forced = 1),
            reply_message_id INTEGER,
            CHECK ((media_kind = 'link') = (file_id IS NULL) AND (file_id IS NULL) = (file_unique_id IS NULL)),
            UNIQUE (bot, bot_user_id, update_id, item)
        ) STRICT;
        INSERT INTO telegram_sources_v8 (job_id, bot, update_id, item, chat_id, message_id, media_kind, file_id,
            file_unique_id, file_name, mime_type, file_size, forced, reply_message_id)
        SELECT job_id, bot, update_id, item, chat_id, message_id, media_kind, file_id, file_unique_id, file_name,
            mime_type, file_size, forced, reply_message_id FROM telegram_sources;
        DROP TABLE telegram_sources;
        ALTER TABLE telegram_sources_v8 RENAME TO telegram_sources;
        CREATE UNIQUE INDEX telegram_sources_media_once ON telegram_sources(bot, chat_id, file_unique_id)
            WHERE file_unique_id IS NOT NULL AND forced = 0;
        """
}
