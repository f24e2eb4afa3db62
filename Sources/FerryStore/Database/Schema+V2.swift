/// Migration `v2-transition-guards`: the database refuses any state change that is not in the
/// job's lifecycle, any claim by a worker that has exited, any exit recorded while the worker still
/// holds jobs, any download that "succeeds" with a size or hash other than the one expected, and
/// any upload created before its download has succeeded.
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

        CREATE TRIGGER jobs_guard_transition BEFORE UPDATE OF state ON jobs
            WHEN NEW.state IS NOT OLD.state AND NOT EXISTS (
                SELECT 1 FROM job_transitions t
                WHERE t.kind = NEW.kind AND t.from_state = OLD.state AND t.cause = NEW.state_cause
                    AND t.to_state = NEW.state)
        BEGIN
            SELECT RAISE(ABORT, 'illegal job transition');
        END;
        CREATE TRIGGER jobs_guard_kind BEFORE UPDATE OF kind ON jobs
            WHEN NEW.kind IS NOT OLD.kind
        BEGIN
            SELECT RAISE(ABORT, 'a job never changes its kind');
        END;
        CREATE TRIGGER jobs_guard_creation BEFORE INSERT ON jobs
            WHEN NEW.state_cause IS NOT 'create'
                OR NEW.state IS NOT (CASE NEW.kind WHEN 'video' THEN 'temporary' ELSE 'queued' END)
        BEGIN
            SELECT RAISE(ABORT, 'a new job starts in its lifecycle''s initial state');
        END;

        -- A job runs only while a live worker holds it.
        CREATE TRIGGER jobs_guard_owner_alive BEFORE UPDATE OF owner ON jobs
            WHEN NEW.owner IS NOT NULL AND NEW.owner IS NOT OLD.owner
                AND (SELECT exited_at FROM workers WHERE id = NEW.owner) IS NOT NULL
        BEGIN
            SELECT RAISE(ABORT, 'a job can only be claimed by a live worker');
        END;
        CREATE TRIGGER workers_guard_exit BEFORE UPDATE OF exited_at ON workers
            WHEN NEW.exited_at IS NOT NULL AND OLD.exited_at IS NULL
                AND EXISTS (SELECT 1 FROM jobs WHERE owner = NEW.id)
        BEGIN
            SELECT RAISE(ABORT, 'requeue a worker''s jobs before recording its exit');
        END;

        -- A download succeeds only with the size and hash it was asked for.
        CREATE TRIGGER jobs_guard_download_result BEFORE UPDATE OF state ON jobs
            WHEN NEW.kind = 'download' AND NEW.state = 'succeeded' AND EXISTS (
                SELECT 1 FROM downloads d WHERE d.job_id = NEW.id AND (
                    (d.expected_size IS NOT NULL AND d.expected_size IS NOT NEW.result_size)
                    OR (d.expected_sha256 IS NOT NULL AND d.expected_sha256 IS NOT NEW.result_sha256)))
        BEGIN
            SELECT RAISE(ABORT, 'a download cannot succeed with a size or SHA-256 other than expected');
        END;

        -- Follow-up work exists only once its predecessor has succeeded.
        CREATE TRIGGER uploads_guard_download_done BEFORE INSERT ON uploads
            WHEN (SELECT state FROM jobs WHERE id = NEW.download_id) IS NOT 'succeeded'
        BEGIN
            SELECT RAISE(ABORT, 'an upload is created only when its download has succeeded');
        END;
        """
}
