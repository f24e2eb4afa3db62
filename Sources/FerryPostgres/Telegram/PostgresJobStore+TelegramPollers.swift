public import FerryCore
import Logging
import PostgresNIO

extension PostgresJobStore {
    /// One transaction: this node's rows for bots it no longer has go; each of `bots` is inserted
    /// for this node, or taken over when its node is stopped or out of lease (a conditional
    /// update, so two nodes racing for a bot leave one poller; in name order, so that two nodes
    /// inserting the same bots wait on each other without a deadlock); then every bot's poller is read.
    public func electTelegramPollers(_ bots: [String]) async throws(StoreError) -> [String: String] {
        let node = try node
        let logger = logger
        return try await write { connection in
            try await connection.run(
                "DELETE FROM telegram_pollers WHERE node = \(node.id) AND NOT (bot = ANY(\(bots)::text[]))", logger)
            try await connection.run(
                """
                INSERT INTO telegram_pollers AS p (bot, node)
                SELECT bot, \(node.id) FROM unnest(\(bots)::text[]) AS bot ORDER BY bot
                ON CONFLICT (bot) DO UPDATE SET node = excluded.node, since = clock_timestamp()
                WHERE p.node <> excluded.node AND NOT EXISTS (
                    SELECT 1 FROM nodes n
                    WHERE n.id = p.node AND n.stopped_at IS NULL AND n.lease_expires_at > clock_timestamp())
                """, logger)
            let rows = try await connection.rows(
                "SELECT bot, node FROM telegram_pollers WHERE bot = ANY(\(bots)::text[])", logger)
            var pollers: [String: String] = [:]
            for row in rows { pollers[try row.value(0)] = try row.value(1) }
            return pollers
        }
    }
}
