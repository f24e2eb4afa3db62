/// Migration `pg5-telegram-pollers`: which node long-polls each Telegram bot. Telegram answers one
/// `getUpdates` per bot at a time (a second ends the first with 409 Conflict), so when every node
/// has the same bots configured, one node per bot polls and the others only post replies.
///
/// A row names the bot's poller; a live node keeps its rows, and any node may take a row whose
/// node is stopped or whose lease ran out. The fence trigger refuses the write of a node whose own
/// lease ran out, so a node paused past its lease cannot take a bot back when it wakes.
enum PostgresTelegramPollersSchema {
    static let sql = """
        CREATE TABLE telegram_pollers (
            bot text PRIMARY KEY CHECK (length(bot) BETWEEN 1 AND 64),
            node text NOT NULL REFERENCES nodes(id),
            since timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE TRIGGER telegram_pollers_fence BEFORE INSERT OR UPDATE OR DELETE ON telegram_pollers
            FOR EACH STATEMENT EXECUTE FUNCTION ferry_fence();
        """
}
