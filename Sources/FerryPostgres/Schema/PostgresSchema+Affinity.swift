/// Migration `pg3-affinity-order-wakeups`: what several nodes need beyond leases.
///
/// - `jobs.node`: where a finished download's or stored video's file lives (the node whose worker
///   completed it). An upload is claimed only on the node holding its download's file, and only
///   once that download has succeeded: the file is nowhere else.
/// - Commit-ordered events: a statement trigger takes one advisory lock before any insert into
///   `job_events`, held until commit, so event ids are handed out in commit order across every
///   node. A reader tailing `id > last` can then never see an event before an earlier one commits
///   (with plain identity values it could: a transaction holding id 10 may commit after the one
///   holding id 11 was read, and the tail would skip 10 for ever).
/// - Wake-ups: whenever a statement leaves jobs waiting to be claimed, `pg_notify('ferry_work',
///   kind)` tells every listening node at commit (and never for a rolled-back one).
enum PostgresAffinitySchema {
    /// The advisory lock that orders event inserts ("FerryEvt").
    static let eventLockKey: Int64 = 0x4665_7272_7945_7674

    static var sql: String {
        """
        ALTER TABLE jobs ADD COLUMN node text;
        CREATE INDEX jobs_by_node ON jobs(node) WHERE node IS NOT NULL;

        CREATE FUNCTION ferry_events_in_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(\(eventLockKey));
            RETURN NULL;
        END $$;
        CREATE TRIGGER job_events_commit_order BEFORE INSERT ON job_events
            FOR EACH STATEMENT EXECUTE FUNCTION ferry_events_in_commit_order();

        CREATE FUNCTION ferry_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('ferry_work', kind)
            FROM (SELECT DISTINCT kind FROM waiting WHERE state IN (\(PostgresSchema.waitingStates))) AS kinds;
            RETURN NULL;
        END $$;
        CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS waiting
            FOR EACH STATEMENT EXECUTE FUNCTION ferry_notify_work();
        CREATE TRIGGER jobs_notify_update AFTER UPDATE ON jobs REFERENCING NEW TABLE AS waiting
            FOR EACH STATEMENT EXECUTE FUNCTION ferry_notify_work();
        """
    }
}
