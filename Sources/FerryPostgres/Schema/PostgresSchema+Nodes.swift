/// Migration `pg2-nodes`: several Ferry nodes on one queue, each with a lease measured by the
/// database's clock, and a fence that PostgreSQL itself keeps.
///
/// - `nodes`: one row per `ferry serve` incarnation (its id is the node's name plus a fresh
///   incarnation id), with its admin address and `lease_expires_at`, renewed every third of the
///   lease. A node whose lease ran out is dead: any live node marks it stopped and requeues what
///   its workers held (conditional updates, so two nodes racing do it once).
/// - `workers.node`: the node a worker runs on; a job's holder is its owner's node.
/// - The fence: a node's store names the node in every session (`ferry.node`); a statement
///   trigger refuses any write to `jobs` or `workers` from a node whose lease has run out or
///   that was declared stopped (SQLSTATE FY003). So a node paused past its lease (SIGSTOP, a long
///   GC, a partition) can never apply a late report, claim or requeue once it wakes: its work
///   may already be someone else's.
enum PostgresNodesSchema {
    static let fencedState = "FY003"

    static let sql = """
        CREATE TABLE nodes (
            id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
            name text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
            address text,
            started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            lease_expires_at timestamptz NOT NULL,
            stopped_at timestamptz,
            stop_reason text,
            CHECK ((stopped_at IS NULL) = (stop_reason IS NULL))
        );
        CREATE INDEX nodes_by_name ON nodes(name) WHERE stopped_at IS NULL;

        ALTER TABLE workers ADD COLUMN node text REFERENCES nodes(id);
        CREATE INDEX workers_by_node ON workers(node) WHERE exited_at IS NULL;

        CREATE FUNCTION ferry_fence() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            acting text := current_setting('ferry.node', true);
        BEGIN
            IF acting IS NOT NULL AND acting <> '' AND NOT EXISTS (
                SELECT 1 FROM nodes WHERE id = acting AND stopped_at IS NULL AND lease_expires_at > clock_timestamp())
            THEN
                RAISE EXCEPTION 'node % no longer holds its lease', acting USING ERRCODE = 'FY003',
                    HINT = 'the node must stop: other nodes take its work over';
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER jobs_fence BEFORE INSERT OR UPDATE OR DELETE ON jobs
            FOR EACH STATEMENT EXECUTE FUNCTION ferry_fence();
        CREATE TRIGGER workers_fence BEFORE INSERT OR UPDATE ON workers
            FOR EACH STATEMENT EXECUTE FUNCTION ferry_fence();
        """

    /// Migration `pg6-node-home`: the id of the state folder a node works in. A name stands for a
    /// state folder (a restart adopts its predecessor's files), so a live incarnation of the same
    /// name in another home is a second machine under one name, and registering is refused; and
    /// start-up recovery adopts only the files of incarnations of its own home. NULL: unknown.
    static let home = """
        ALTER TABLE nodes ADD COLUMN home text CHECK (home IS NULL OR length(home) BETWEEN 1 AND 100);
        """
}
