/// Migration `v4-write-probe`: one row the supervisor rewrites before each watchdog ping, so
/// systemd restarts a supervisor whose database can no longer be written (full disk, read-only
/// folder) instead of trusting one that only looks alive.
enum SchemaV4 {
    static let identifier = "v4-write-probe"

    static let sql = """
        CREATE TABLE write_probe (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            at INTEGER NOT NULL
        ) STRICT;
        """
}
