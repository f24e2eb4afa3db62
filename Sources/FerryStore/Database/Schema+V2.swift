/// Migration `v2-transition-guards`: the database writes the event log itself and refuses any
/// state change that is not in the job's lifecycle, any claim by a worker that has exited, any
/// exit recorded while the worker still holds jobs, any download that "succeeds" with a size or
/// hash other than the one expected, and any upload created before its download has succeeded.
///
/// `job_transitions` is the same table as ``JobLifecycle`` in FerryCore; a test keeps them equal.
enum SchemaV2 {
    static let identifier = "v2-transition-guards"

    static let sql = """
        CREATE TABLE job_transitions (
            kind TEXT NOT NULL,
            from_state TEXT NOT NULL,
            cause TEXT NOT NULL,
            to_state TEXT NOT NULL,
            PRIMARY KEY (kind, from_state, cause)
        ) STRICT, WITHOUT ROWID;
        INSERT INTO job_transitions (kind, from_state, cause, to_state) VALUES
            ('download', 'queued', 'claim', 'running'),
            ('download', 'queued', 'pause', 'paused'),
            ('download', 'queued', 'cancel', 'cancelled'),
            ('download', 'queued', 'fail', 'failed'),
            ('download', 'running', 'complete', 'succeeded'),
            ('download', 'running', 'schedule_retry', 'queued'),
            ('download', 'running', 'requeue', 'queued'),
            ('download', 'running', 'fail', 'failed'),
            ('download', 'running', 'cancel', 'cancelled'),
            ('download', 'running', 'pause', 'paused'),
            ('download', 'paused', 'resume', 'queued'),
            ('download', 'paused', 'cancel', 'cancelled'),
            ('download', 'failed', 'retry', 'queued'),
            ('download', 'cancelled', 'retry', 'queued'),
            ('upload', 'queued', 'claim', 'running'),
            ('upload', 'queued', 'pause', 'paused'),
            ('upload', 'queued', 'cancel', 'cancelled'),
            ('upload', 'queued', 'fail', 'failed'),
            ('upload', 'running', 'complete', 'succeeded'),
            ('upload', 'running', 'schedule_retry', 'queued'),
            ('upload', 'running', 'requeue', 'queued'),
            ('upload', 'running', 'fail', 'failed'),
            ('upload', 'running', 'cancel', 'cancelled'),
            ('upload', 'running', 'pause', 'paused'),
            ('upload', 'paused', 'resume', 'queued'),
            ('upload', 'paused', 'cancel', 'cancelled'),
            ('upload', 'failed', 'retry', 'queued'),
            ('upload', 'cancelled', 'retry', 'queued'),
            ('upload', 'succeeded', 'mark_cleaned', 'cleaned'),
            ('video', 'temporary', 'claim', 'storing'),
            ('video', 'temporary', 'fail', 'failed'),
            ('video', 'storing', 'complete', 'stored'),
            ('video', 'storing', 'schedule_retry', 'temporary'),
            ('video', 'storing', 'requeue', 'temporary'),
            ('video', 'storing', 'fail', 'failed'),
            ('video', 'failed', 'retry', 'temporary');

        -- Every insert: a new job starts in its lifecycle's initial state, and its creation is logged.
        CREATE TRIGGER jobs_on_insert AFTER INSERT ON jobs
        BEGIN
            SELECT RAISE(ABORT, 'a new job starts in its lifecycle''s initial state')
            WHERE NEW.state_cause IS NOT 'create'
                OR NEW.state IS NOT (CASE NEW.kind WHEN 'video' THEN 'temporary' ELSE 'queued' END);
            INSERT INTO job_events (job_id, at, from_state, to_state, cause, reason, owner, attempt)
            VALUES (NEW.id, NEW.updated_at, NULL, NEW.state, NEW.state_cause, NEW.state_reason, NEW.owner, NEW.attempt);
        END;

        -- Every change of state or owner, in one trigger (each trigger invocation costs more than
        -- the checks in it, and this runs on every claim and outcome):
        -- - the move must be in the kind's lifecycle, caused by the command that makes it;
        -- - a job runs only while a live worker holds it;
        -- - a download succeeds only with the size and hash it was asked for;
        -- - the change is appended to the event log, in the same statement, so no transition
        --   can go unrecorded (and a refused one leaves no event).
        CREATE TRIGGER jobs_on_change BEFORE UPDATE OF state, owner ON jobs
        BEGIN
            SELECT RAISE(ABORT, 'illegal job transition')
            WHERE NEW.state IS NOT OLD.state AND NOT EXISTS (
                SELECT 1 FROM job_transitions t
                WHERE t.kind = NEW.kind AND t.from_state = OLD.state AND t.cause = NEW.state_cause
                    AND t.to_state = NEW.state);
            SELECT RAISE(ABORT, 'a job can only be claimed by a live worker')
            WHERE NEW.owner IS NOT NULL AND NEW.owner IS NOT OLD.owner
                AND (SELECT exited_at FROM workers WHERE id = NEW.owner) IS NOT NULL;
            SELECT RAISE(ABORT, 'a download cannot succeed with a size or SHA-256 other than expected')
            WHERE NEW.kind = 'download' AND NEW.state = 'succeeded' AND OLD.state IS NOT 'succeeded' AND EXISTS (
                SELECT 1 FROM downloads d WHERE d.job_id = NEW.id AND (
                    (d.expected_size IS NOT NULL AND d.expected_size IS NOT NEW.result_size)
                    OR (d.expected_sha256 IS NOT NULL AND d.expected_sha256 IS NOT NEW.result_sha256)));
            INSERT INTO job_events (job_id, at, from_state, to_state, cause, reason, owner, attempt)
            SELECT NEW.id, NEW.updated_at, OLD.state, NEW.state, NEW.state_cause, NEW.state_reason,
                COALESCE(NEW.owner, OLD.owner), NEW.attempt
            WHERE NEW.state IS NOT OLD.state;
        END;

        CREATE TRIGGER jobs_guard_kind BEFORE UPDATE OF kind ON jobs
            WHEN NEW.kind IS NOT OLD.kind
        BEGIN
            SELECT RAISE(ABORT, 'a job never changes its kind');
        END;

        -- A worker's exit is recorded only after its jobs were put back.
        CREATE TRIGGER workers_guard_exit BEFORE UPDATE OF exited_at ON workers
            WHEN NEW.exited_at IS NOT NULL AND OLD.exited_at IS NULL
                AND EXISTS (SELECT 1 FROM jobs WHERE kind IN ('download', 'upload', 'video')
                    AND state IN ('running', 'storing') AND owner = NEW.id)
        BEGIN
            SELECT RAISE(ABORT, 'requeue a worker''s jobs before recording its exit');
        END;

        -- Follow-up work exists only once its predecessor has succeeded.
        CREATE TRIGGER uploads_guard_download_done BEFORE INSERT ON uploads
            WHEN (SELECT state FROM jobs WHERE id = NEW.download_id) IS NOT 'succeeded'
        BEGIN
            SELECT RAISE(ABORT, 'an upload is created only when its download has succeeded');
        END;
        """
}
