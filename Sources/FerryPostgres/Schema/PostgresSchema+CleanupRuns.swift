/// Migration `pg4-cleanup-runs-per-node`: `cleanup_runs` (created by `pg1-jobs` with SQLite's
/// checks) records the node that ran each run, and at most one run is in progress per node
/// instead of per cluster: each node runs the cleanup of the files it holds. The node is filled
/// by the database from the session's `ferry.node`, as `workers.node` is; a tool's session names
/// none, and its runs count as one more "node" (the index folds NULL into '').
enum PostgresCleanupRunsSchema {
    static let sql = """
        ALTER TABLE cleanup_runs ADD COLUMN node text DEFAULT NULLIF(current_setting('ferry.node', true), '');
        DROP INDEX cleanup_runs_one_running;
        CREATE UNIQUE INDEX cleanup_runs_one_running_per_node ON cleanup_runs ((COALESCE(node, '')))
            WHERE state = 'running';
        CREATE INDEX cleanup_runs_by_node ON cleanup_runs (node, id);
        """
}
