/// The columns of `jobs`, in the order both stores decode a job row. Queries name them explicitly
/// and the decoders read by position: looking columns up by name costs more than the SQL itself
/// on the hot claim and complete paths. Both schemas (SQLite and PostgreSQL) have these columns.
public enum JobColumns {
    public static let names = [
        "id",
        "kind",
        "state",
        "idempotency_key",
        "priority",
        "attempt",
        "max_attempts",
        "owner",
        "created_at",
        "updated_at",
        "due_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "state_cause",
        "state_reason",
        "last_error",
        "last_error_code",
        "last_error_class",
        "bytes_done",
        "bytes_total",
        "resume_state",
        "result_location",
        "result_size",
        "result_sha256",
        "result_content_type",
        "cleaned_at",
        "lane",
    ]

    /// `id, kind, …` for SELECT and RETURNING.
    public static let list = names.joined(separator: ", ")

    /// `table.id, table.kind, …` for joins.
    public static func qualified(by table: String) -> String {
        names.map { "\(table).\($0)" }.joined(separator: ", ")
    }
}
