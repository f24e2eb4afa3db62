/// Migration `v3-cleanup-runs`: the record of every cleanup run (scheduled, requested or dry),
/// with what it found and did. At most one run is in progress at a time, so a second request
/// returns the running one instead of starting another.
enum SchemaV3 {
    static let identifier = "v3-cleanup-runs"

    static let sql = """
        CREATE TABLE cleanup_runs (
            id INTEGER PRIMARY KEY,
            trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'request', 'startup')),
            dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
            state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            report TEXT CHECK (report IS NULL OR json_valid(report)),
            error TEXT,
            CHECK ((state = 'running') = (finished_at IS NULL)),
            CHECK (state <> 'succeeded' OR report IS NOT NULL),
            CHECK ((state = 'failed') = (error IS NOT NULL)),
            CHECK (finished_at IS NULL OR finished_at >= started_at)
        ) STRICT;
        CREATE UNIQUE INDEX cleanup_runs_one_running ON cleanup_runs(state) WHERE state = 'running';
        CREATE INDEX cleanup_runs_by_start ON cleanup_runs(started_at);
        """
}
