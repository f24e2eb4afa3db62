/// The named, ordered migrations of the PostgreSQL store. The first is the whole schema as the
/// SQLite store has it after its migration v9 (PostgreSQL support started there); later changes
/// add a migration here and one to the SQLite store in the same commit.
enum PostgresMigrations {
    static let all: [(identifier: String, sql: String)] = [
        ("pg1-jobs", PostgresSchema.sql),
        ("pg2-nodes", PostgresNodesSchema.sql),
        ("pg3-affinity-order-wakeups", PostgresAffinitySchema.sql),
        ("pg4-cleanup-runs-per-node", PostgresCleanupRunsSchema.sql),
        ("pg5-telegram-pollers", PostgresTelegramPollersSchema.sql),
        ("pg6-node-home", PostgresNodesSchema.home),
        ("pg7-telegram-send-turns", PostgresTelegramSendTurnsSchema.sql),
        ("pg8-serial-lanes", PostgresLanesSchema.sql),
        ("pg9-free-uploads", PostgresFreeUploadsSchema.sql),
        ("pg10-detail-keys", PostgresDetailKeysSchema.sql),
        ("pg11-no-id-kind-key", PostgresIdKindKeySchema.sql),
        ("pg12-succeeded-downloads-by-id", PostgresSchema.jobsOnChange),
        ("pg13-state-check-as-a-function", PostgresStateFitsSchema.sql),
    ]

    static var identifiers: [String] { all.map(\.identifier) }

    /// The advisory lock every migrating node takes, so that two nodes never migrate at once.
    static let lockKey: Int64 = 0x4665_7272_794D_6967  // "FerryMig"
}
