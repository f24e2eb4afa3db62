/// Migration `v7-telegram`: Telegram bots as a source of downloads.
///
/// - Worker roles become rows of `worker_roles` instead of a CHECK list, so a migration that adds
///   a role inserts one row rather than rebuilding `workers` again; this one rebuilds it once (with
///   `legacy_alter_table`, so the rename does not trip over the triggers that name `workers`) and
///   adds the `telegram` role.
/// - `telegram_bots` keeps each bot's update offset: the updates below it are recorded, and the
///   same transaction that records updates moves it, so an update is taken exactly once.
/// - `telegram_sources` says where each download that came through a bot came from (chat,
///   message, media metadata); it keeps the file_id, never a file URL (which holds the token).
///   The same media (file_unique_id) from the same chat is fetched once unless the sender forces it.
enum SchemaV7 {
    static let identifier = "v7-telegram"

    static let sql = """
        CREATE TABLE worker_roles (role TEXT PRIMARY KEY NOT NULL CHECK (length(role) BETWEEN 1 AND 32)) STRICT;
        INSERT INTO worker_roles (role) VALUES ('download'), ('upload'), ('store'), ('cleanup'), ('telegram');

        PRAGMA legacy_alter_table = ON;
        CREATE TABLE workers_v7 (
            id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
            role TEXT NOT NULL REFERENCES worker_roles(role),
            slot INTEGER NOT NULL CHECK (slot >= 0),
            pid INTEGER CHECK (pid IS NULL OR pid > 0),
            started_at INTEGER NOT NULL,
            last_heartbeat_at INTEGER,
            exited_at INTEGER,
            exit_code INTEGER,
            exit_signal INTEGER CHECK (exit_signal IS NULL OR exit_signal > 0),
            exit_reason TEXT CHECK (exit_reason IS NULL OR length(exit_reason) > 0),
            stderr_tail TEXT,
            CHECK ((exited_at IS NULL) = (exit_reason IS NULL)),
            CHECK (exited_at IS NOT NULL OR (exit_code IS NULL AND exit_signal IS NULL AND stderr_tail IS NULL)),
            CHECK (exit_code IS NULL OR exit_signal IS NULL),
            CHECK (exited_at IS NULL OR exited_at >= started_at)
        ) STRICT;
        INSERT INTO workers_v7 SELECT id, role, slot, pid, started_at, last_heartbeat_at, exited_at, exit_code,
            exit_signal, exit_reason, stderr_tail FROM workers;
        DROP TABLE workers;
        ALTER TABLE workers_v7 RENAME TO workers;
        PRAGMA legacy_alter_table = OFF;
        CREATE INDEX workers_live ON workers(role, slot) WHERE exited_at IS NULL;
        CREATE INDEX workers_by_start ON workers(started_at);
        CREATE TRIGGER workers_guard_exit BEFORE UPDATE OF exited_at ON workers
            WHEN NEW.exited_at IS NOT NULL AND OLD.exited_at IS NULL
                AND EXISTS (SELECT 1 FROM jobs WHERE kind IN ('download', 'upload', 'video')
                    AND state IN ('running', 'storing') AND owner = NEW.id)
        BEGIN
            SELECT RAISE(ABORT, 'requeue a worker''s jobs before recording its exit');
        END;

        CREATE TABLE telegram_bots (
            name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
            next_offset INTEGER NOT NULL DEFAULT 0 CHECK (next_offset >= 0),
            updates INTEGER NOT NULL DEFAULT 0 CHECK (updates >= 0),
            ignored INTEGER NOT NULL DEFAULT 0 CHECK (ignored >= 0),
            duplicates INTEGER NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
            last_update_at INTEGER
        ) STRICT;
        -- The offset only moves forward: a stale batch can never make Telegram send old updates again.
        CREATE TRIGGER telegram_bots_offset_forward BEFORE UPDATE OF next_offset ON telegram_bots
            WHEN NEW.next_offset < OLD.next_offset
        BEGIN
            SELECT RAISE(ABORT, 'a bot''s update offset never moves back');
        END;

        CREATE TABLE telegram_sources (
            job_id INTEGER PRIMARY KEY REFERENCES downloads(job_id) ON DELETE CASCADE,
            bot TEXT NOT NULL REFERENCES telegram_bots(name),
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
            -- The bot's reply in the chat ("queued", edited to "done" or the error), with replies on.
            reply_message_id INTEGER,
            -- Media carry Telegram's ids; a link carries neither.
            CHECK ((media_kind = 'link') = (file_id IS NULL) AND (file_id IS NULL) = (file_unique_id IS NULL)),
            UNIQUE (bot, update_id, item)
        ) STRICT;
        -- The same media from the same chat is one download, unless the sender forces another.
        CREATE UNIQUE INDEX telegram_sources_media_once ON telegram_sources(bot, chat_id, file_unique_id)
            WHERE file_unique_id IS NOT NULL AND forced = 0;
        """
}
