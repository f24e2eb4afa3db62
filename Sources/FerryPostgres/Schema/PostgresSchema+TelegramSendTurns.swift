/// Migration `pg7-telegram-send-turns`: Telegram's flood control shared by every node. On one
/// node the turns live in a file every process locks (`<state_dir>/telegram/send-turns`); several
/// nodes sending to one chat need them in the database, on the database's clock (each machine's
/// own may differ). A row per `<bot>/<chat>` and per `<bot>/*` holds when it may next be sent to,
/// in milliseconds since 1970; the functions take a turn only when it is due and hold a chat after
/// a 429, under the rows' locks, exactly as `TelegramSendTurns` does with the file.
enum PostgresTelegramSendTurnsSchema {
    static let sql = """
        CREATE TABLE telegram_send_turns (
            key text PRIMARY KEY CHECK (length(key) BETWEEN 3 AND 100),
            next_at bigint NOT NULL
        );

        -- The database's clock in milliseconds since 1970.
        CREATE FUNCTION ferry_now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS $$
            SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint
        $$;

        -- Takes a bot's turn to send to a chat if it is due: NULL, and the chat and the bot are
        -- spaced from now; otherwise changes nothing and returns the milliseconds to wait. A time
        -- more than `furthest` ahead is taken for a clock that went back, and ignored.
        CREATE FUNCTION ferry_take_telegram_turn(
            bot text, chat bigint, chat_spacing bigint, bot_spacing bigint, furthest bigint
        ) RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
            now_ms bigint := ferry_now_ms();
            chat_key text := bot || '/' || chat;
            bot_key text := bot || '/*';
            due bigint;
        BEGIN
            INSERT INTO telegram_send_turns (key, next_at) VALUES (bot_key, 0), (chat_key, 0)
                ON CONFLICT (key) DO NOTHING;
            PERFORM 1 FROM telegram_send_turns WHERE key IN (bot_key, chat_key) ORDER BY key FOR UPDATE;
            SELECT max(CASE WHEN next_at - now_ms > furthest THEN now_ms ELSE next_at END) INTO due
                FROM telegram_send_turns WHERE key IN (bot_key, chat_key);
            IF due > now_ms THEN
                RETURN due - now_ms;
            END IF;
            UPDATE telegram_send_turns SET next_at = now_ms + chat_spacing WHERE key = chat_key;
            UPDATE telegram_send_turns SET next_at = now_ms + bot_spacing WHERE key = bot_key;
            RETURN NULL;
        END $$;

        -- Holds a bot's chat for `wait` milliseconds from now (a 429's retry_after).
        CREATE FUNCTION ferry_hold_telegram_chat(bot text, chat bigint, wait bigint, furthest bigint)
        RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            now_ms bigint := ferry_now_ms();
        BEGIN
            INSERT INTO telegram_send_turns AS t (key, next_at) VALUES (bot || '/' || chat, now_ms + wait)
                ON CONFLICT (key) DO UPDATE SET next_at = greatest(
                    CASE WHEN t.next_at - now_ms > furthest THEN now_ms ELSE t.next_at END, excluded.next_at);
        END $$;
        """
}
