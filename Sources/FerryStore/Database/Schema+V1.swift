/// Migration `v1-jobs`: workers, jobs, their event log and the per-kind detail tables.
///
/// The invariants live here, in SQL, so that no code path — ours, a script's or a person's with
/// the sqlite3 shell — can store an inconsistent row:
/// - each state carries exactly the columns it must (a running job has an owner and a start
///   time; a succeeded one a finish time and its result; a failed one its error);
/// - one live (or succeeded) job per idempotency key;
/// - a detail row belongs to a job of its own kind; an upload belongs to its download and goes
///   with it; a video is unique per user and external request id;
/// - the event log is append-only (migration v2 makes the database write it itself).
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
            kind TEXT NOT NULL,
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
            last_error_class TEXT CHECK (last_error_class IS NULL OR last_error_class = 'retryable' OR last_error_class = 'permanent'),
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
            CHECK (finished_at IS NULL OR finished_at >= created_at),
            CHECK ((result_location IS NULL) = (result_size IS NULL) AND (result_size IS NULL) = (result_sha256 IS NULL)),
            CHECK ((last_error IS NULL) = (last_error_code IS NULL) AND (last_error IS NULL) = (last_error_class IS NULL)),
            -- Each state belongs to its kind's lifecycle and carries exactly the columns it must.
            -- One CASE, not a dozen CHECKs with IN lists: it is evaluated on every write, and this
            -- form costs a fraction (IN lists build a temporary table per row).
            CHECK (CASE state
                -- Waiting or paused: nobody holds it, nothing finished.
                WHEN 'queued' THEN (kind = 'download' OR kind = 'upload')
                    AND owner IS NULL AND finished_at IS NULL AND result_location IS NULL AND cleaned_at IS NULL
                WHEN 'temporary' THEN kind = 'video'
                    AND owner IS NULL AND finished_at IS NULL AND result_location IS NULL AND cleaned_at IS NULL
                WHEN 'paused' THEN (kind = 'download' OR kind = 'upload')
                    AND owner IS NULL AND finished_at IS NULL AND result_location IS NULL AND cleaned_at IS NULL
                -- Running: held by an owner, started, an attempt counted, not finished.
                WHEN 'running' THEN (kind = 'download' OR kind = 'upload')
                    AND owner IS NOT NULL AND started_at IS NOT NULL AND attempt >= 1
                    AND finished_at IS NULL AND result_location IS NULL AND cleaned_at IS NULL
                WHEN 'storing' THEN kind = 'video'
                    AND owner IS NOT NULL AND started_at IS NOT NULL AND attempt >= 1
                    AND finished_at IS NULL AND result_location IS NULL AND cleaned_at IS NULL
                -- Succeeded: finished, with its result (location, size, SHA-256).
                WHEN 'succeeded' THEN (kind = 'download' OR kind = 'upload')
                    AND owner IS NULL AND finished_at IS NOT NULL AND result_location IS NOT NULL AND cleaned_at IS NULL
                WHEN 'stored' THEN kind = 'video'
                    AND owner IS NULL AND finished_at IS NOT NULL AND result_location IS NOT NULL AND cleaned_at IS NULL
                -- Cleaned: a delivered upload whose local source was removed.
                WHEN 'cleaned' THEN kind = 'upload'
                    AND owner IS NULL AND finished_at IS NOT NULL AND result_location IS NOT NULL AND cleaned_at IS NOT NULL
                -- Failed: finished, with its error.
                WHEN 'failed' THEN (kind = 'download' OR kind = 'upload' OR kind = 'video')
                    AND owner IS NULL AND finished_at IS NOT NULL AND last_error IS NOT NULL
                    AND result_location IS NULL AND cleaned_at IS NULL
                -- Cancelled: finished by request.
                WHEN 'cancelled' THEN (kind = 'download' OR kind = 'upload')
                    AND owner IS NULL AND finished_at IS NOT NULL AND result_location IS NULL AND cleaned_at IS NULL
                ELSE 0
            END)
        ) STRICT;

        -- Claims read due waiting jobs of a kind in order (highest priority, earliest due) straight
        -- off this index; counts per kind and state use its prefix.
        -- (The rowid, last in every index, breaks ties in id order. Running jobs are few, so finding a
        -- worker's jobs through this index needs no index of its own.)
        CREATE INDEX jobs_queue ON jobs(kind, state, priority DESC, due_at);
        -- One live or succeeded job per idempotency key; a failed or cancelled one frees its key.
        CREATE UNIQUE INDEX jobs_one_active_per_key ON jobs(kind, idempotency_key)
            WHERE idempotency_key IS NOT NULL AND state <> 'failed' AND state <> 'cancelled';

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

        CREATE TABLE downloads (
            job_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'download' CHECK (kind = 'download'),
            url TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 8192),
            file_name TEXT CHECK (file_name IS NULL
                OR (length(file_name) BETWEEN 1 AND 255 AND instr(file_name, '/') = 0
                    AND instr(file_name, char(0)) = 0 AND file_name <> '.' AND file_name <> '..')),
            expected_size INTEGER CHECK (expected_size IS NULL OR expected_size >= 0),
            expected_sha256 TEXT CHECK (expected_sha256 IS NULL
                OR (length(expected_sha256) = 64 AND expected_sha256 NOT GLOB '*[^0-9a-f]*')),
            upload_targets TEXT NOT NULL DEFAULT '[]'
                CHECK (json_valid(upload_targets) AND json_type(upload_targets) = 'array'),
            delete_after_upload INTEGER NOT NULL DEFAULT 0 CHECK (delete_after_upload = 0 OR delete_after_upload = 1),
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
