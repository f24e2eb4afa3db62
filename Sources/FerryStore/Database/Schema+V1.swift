/// Migration `v1-jobs`: workers, jobs, their event log and the per-kind detail tables.
///
/// The invariants live here, in SQL, so that no code path — ours, a script's or a person's with
/// the sqlite3 shell — can store an inconsistent row:
/// - each state carries exactly the columns it must (a running job has an owner and a start
///   time; a succeeded one a finish time and its result; a failed one its error);
/// - one live (or succeeded) job per idempotency key;
/// - a detail row belongs to a job of its own kind; an upload belongs to its download and goes
///   with it; a video is unique per user and external request id;
/// - every state change is written to the append-only event log by the database itself.
enum SchemaV1 {
    static let identifier = "v1-jobs"

    static let sql = """
        CREATE TABLE workers (
            id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
            role TEXT NOT NULL CHECK (role IN ('download', 'upload', 'store', 'cleanup')),
            slot INTEGER NOT NULL CHECK (slot >= 0),
            pid INTEGER CHECK (pid IS NULL OR pid > 0),
            started_at INTEGER NOT NULL,
            last_heartbeat_at INTEGER,
            exited_at INTEGER,
            exit_code INTEGER,
            exit_signal INTEGER CHECK (exit_signal IS NULL OR exit_signal > 0),
            exit_reason TEXT CHECK (exit_reason IS NULL OR length(exit_reason) > 0),
            stderr_tail TEXT,
            CHECK ((exited_at IS NULL) = (exit_reason IS NULL)),
            CHECK (exited_at IS NOT NULL OR (exit_code IS NULL AND exit_signal IS NULL AND stderr_tail IS NULL)),
            CHECK (exit_code IS NULL OR exit_signal IS NULL),
            CHECK (exited_at IS NULL OR exited_at >= started_at)
        ) STRICT;
        CREATE INDEX workers_live ON workers(role, slot) WHERE exited_at IS NULL;
        CREATE INDEX workers_by_start ON workers(started_at);

        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('download', 'upload', 'video')),
            state TEXT NOT NULL,
            idempotency_key TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
            priority INTEGER NOT NULL DEFAULT 0,
            attempt INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
            max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
            owner TEXT REFERENCES workers(id) ON DELETE RESTRICT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            due_at INTEGER NOT NULL,
            started_at INTEGER,
            heartbeat_at INTEGER,
            finished_at INTEGER,
            state_cause TEXT NOT NULL,
            state_reason TEXT,
            last_error TEXT,
            last_error_code TEXT,
            last_error_class TEXT CHECK (last_error_class IS NULL OR last_error_class IN ('retryable', 'permanent')),
            bytes_done INTEGER NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),
            bytes_total INTEGER CHECK (bytes_total IS NULL OR bytes_total >= 0),
            resume_state TEXT CHECK (resume_state IS NULL OR json_valid(resume_state)),
            result_location TEXT CHECK (result_location IS NULL OR length(result_location) > 0),
            result_size INTEGER CHECK (result_size IS NULL OR result_size >= 0),
            result_sha256 TEXT CHECK (result_sha256 IS NULL
                OR (length(result_sha256) = 64 AND result_sha256 NOT GLOB '*[^0-9a-f]*')),
            result_content_type TEXT,
            cleaned_at INTEGER,
            -- The target of the detail tables' (job_id, kind) foreign keys.
            UNIQUE (id, kind),
            CHECK (attempt <= max_attempts),
            CHECK (updated_at >= created_at),
            -- A state belongs to the kind's lifecycle.
            CHECK ((kind = 'download' AND state IN ('queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled'))
                OR (kind = 'upload' AND state IN ('queued', 'running', 'paused', 'succeeded', 'cleaned', 'failed', 'cancelled'))
                OR (kind = 'video' AND state IN ('temporary', 'storing', 'stored', 'failed'))),
            CHECK (state_cause IN ('create', 'claim', 'complete', 'schedule_retry', 'requeue', 'fail', 'cancel',
                'pause', 'resume', 'retry', 'mark_cleaned')),
            -- Running: held by an owner (and only then), started, an attempt counted, not finished.
            CHECK ((state IN ('running', 'storing')) = (owner IS NOT NULL)),
            CHECK (state NOT IN ('running', 'storing')
                OR (started_at IS NOT NULL AND attempt >= 1 AND finished_at IS NULL)),
            -- Succeeded: finished, with its result; a result exists only on success.
            CHECK ((result_location IS NULL) = (result_size IS NULL) AND (result_size IS NULL) = (result_sha256 IS NULL)),
            CHECK ((state IN ('succeeded', 'cleaned', 'stored')) = (result_location IS NOT NULL)),
            CHECK (state NOT IN ('succeeded', 'cleaned', 'stored') OR finished_at IS NOT NULL),
            CHECK ((state = 'cleaned') = (cleaned_at IS NOT NULL)),
            -- Failed: finished, with its error.
            CHECK (state <> 'failed'
                OR (finished_at IS NOT NULL AND last_error IS NOT NULL AND last_error_code IS NOT NULL
                    AND last_error_class IS NOT NULL)),
            CHECK ((last_error IS NULL) = (last_error_code IS NULL)),
            -- Cancelled: finished.
            CHECK (state <> 'cancelled' OR finished_at IS NOT NULL),
            -- Waiting or paused: not finished.
            CHECK (state NOT IN ('queued', 'temporary', 'paused') OR finished_at IS NULL),
            CHECK (finished_at IS NULL OR finished_at >= created_at)
        ) STRICT;

        -- Claims: due waiting jobs of a kind, highest priority and earliest due first.
        CREATE INDEX jobs_due ON jobs(kind, priority DESC, due_at, id) WHERE state IN ('queued', 'temporary');
        CREATE INDEX jobs_by_owner ON jobs(owner) WHERE owner IS NOT NULL;
        CREATE INDEX jobs_by_state ON jobs(kind, state);
        -- One live or succeeded job per idempotency key; a failed or cancelled one frees its key.
        CREATE UNIQUE INDEX jobs_one_active_per_key ON jobs(kind, idempotency_key)
            WHERE idempotency_key IS NOT NULL AND state NOT IN ('failed', 'cancelled');

        CREATE TABLE job_events (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            at INTEGER NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            cause TEXT NOT NULL,
            reason TEXT,
            -- No foreign key: history outlives the retention of worker records.
            owner TEXT,
            attempt INTEGER NOT NULL,
            CHECK ((from_state IS NULL) = (cause = 'create'))
        ) STRICT;
        CREATE INDEX job_events_by_job ON job_events(job_id, id);

        -- The log is append-only: no edits, and rows leave only together with their job.
        CREATE TRIGGER job_events_no_update BEFORE UPDATE ON job_events
        BEGIN
            SELECT RAISE(ABORT, 'job_events is append-only');
        END;
        CREATE TRIGGER job_events_no_delete BEFORE DELETE ON job_events
            WHEN EXISTS (SELECT 1 FROM jobs WHERE id = OLD.job_id)
        BEGIN
            SELECT RAISE(ABORT, 'job_events is append-only: events are deleted only with their job');
        END;

        -- The database writes the log itself, so no transition can go unrecorded.
        CREATE TRIGGER jobs_log_creation AFTER INSERT ON jobs
        BEGIN
            INSERT INTO job_events (job_id, at, from_state, to_state, cause, reason, owner, attempt)
            VALUES (NEW.id, NEW.updated_at, NULL, NEW.state, NEW.state_cause, NEW.state_reason, NEW.owner, NEW.attempt);
        END;
        CREATE TRIGGER jobs_log_transition AFTER UPDATE OF state ON jobs
            WHEN NEW.state IS NOT OLD.state
        BEGIN
            INSERT INTO job_events (job_id, at, from_state, to_state, cause, reason, owner, attempt)
            VALUES (NEW.id, NEW.updated_at, OLD.state, NEW.state, NEW.state_cause, NEW.state_reason,
                    COALESCE(NEW.owner, OLD.owner), NEW.attempt);
        END;

        CREATE TABLE downloads (
            job_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'download' CHECK (kind = 'download'),
            url TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 8192),
            file_name TEXT CHECK (file_name IS NULL
                OR (length(file_name) BETWEEN 1 AND 255 AND instr(file_name, '/') = 0
                    AND instr(file_name, char(0)) = 0 AND file_name NOT IN ('.', '..'))),
            expected_size INTEGER CHECK (expected_size IS NULL OR expected_size >= 0),
            expected_sha256 TEXT CHECK (expected_sha256 IS NULL
                OR (length(expected_sha256) = 64 AND expected_sha256 NOT GLOB '*[^0-9a-f]*')),
            upload_targets TEXT NOT NULL DEFAULT '[]'
                CHECK (json_valid(upload_targets) AND json_type(upload_targets) = 'array'),
            delete_after_upload INTEGER NOT NULL DEFAULT 0 CHECK (delete_after_upload IN (0, 1)),
            FOREIGN KEY (job_id, kind) REFERENCES jobs(id, kind) ON DELETE CASCADE
        ) STRICT;

        CREATE TABLE uploads (
            job_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'upload' CHECK (kind = 'upload'),
            download_id INTEGER NOT NULL REFERENCES downloads(job_id) ON DELETE CASCADE,
            target TEXT NOT NULL CHECK (length(target) BETWEEN 1 AND 64),
            -- The same download is never delivered twice to the same target.
            UNIQUE (download_id, target),
            FOREIGN KEY (job_id, kind) REFERENCES jobs(id, kind) ON DELETE CASCADE
        ) STRICT;
        -- An upload's job goes with its download (the cascade removes the upload row first).
        CREATE TRIGGER uploads_leave_with_their_download AFTER DELETE ON uploads
        BEGIN
            DELETE FROM jobs WHERE id = OLD.job_id;
        END;

        CREATE TABLE videos (
            job_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'video' CHECK (kind = 'video'),
            user_id TEXT NOT NULL CHECK (length(user_id) BETWEEN 1 AND 255),
            external_request_id TEXT NOT NULL CHECK (length(external_request_id) BETWEEN 1 AND 255),
            source_url TEXT NOT NULL CHECK (length(source_url) BETWEEN 1 AND 8192),
            metadata TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
            UNIQUE (user_id, external_request_id),
            FOREIGN KEY (job_id, kind) REFERENCES jobs(id, kind) ON DELETE CASCADE
        ) STRICT;
        CREATE INDEX videos_by_user ON videos(user_id, job_id);
        """
}
