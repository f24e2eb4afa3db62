import FerryCore

/// The PostgreSQL schema: the same tables, invariants and guards as the SQLite store's migrations
/// v1–v9, written for PostgreSQL, with every part that depends on the job lifecycles generated from
/// ``JobLifecycle`` itself (the transition table, the states each kind may be in, the columns each
/// state must carry, the initial states). The SQLite schema carries the same lifecycle as literal
/// SQL; `SchemaParityTests` proves the two databases and the specification allow the same moves.
///
/// Invariants are enforced by PostgreSQL, not by Ferry's code: CHECK constraints tie each state to
/// its columns, partial unique indexes keep one live job per idempotency key, foreign keys tie
/// details to their jobs, and PL/pgSQL triggers refuse illegal moves, claims by dead workers,
/// downloads that succeed with the wrong size or hash, uploads created early, and edits of the
/// append-only event log. Times are wall-clock milliseconds since the Unix epoch, as in SQLite.
enum PostgresSchema {
    /// The SQLSTATE the guards raise for a move the lifecycle does not allow.
    static let illegalTransitionState = "FY001"
    /// The SQLSTATE the other guards raise (an inconsistent write the schema refuses).
    static let invariantState = "FY002"

    static var sql: String {
        [tables, jobsCheck, details, transitions, guards, telegram].joined(separator: "\n")
    }

    // MARK: Generated from the lifecycles

    /// `job_transitions`, row for row the union of every kind's ``JobLifecycle``.
    static var transitionRows: String {
        JobKind.allCases.flatMap { kind in
            JobLifecycle.of(kind).transitions.map {
                "('\(kind.rawValue)', '\($0.from.rawValue)', '\($0.command.rawValue)', '\($0.to.rawValue)')"
            }
        }.joined(separator: ",\n    ")
    }

    /// The columns a job in each phase must (and must not) carry.
    static func columns(of phase: JobPhase) -> String {
        switch phase {
        case .waiting, .paused:
            "owner IS NULL AND finished_at IS NULL AND result_location IS NULL AND cleaned_at IS NULL"
        case .running:
            "owner IS NOT NULL AND started_at IS NOT NULL AND attempt >= 1 AND finished_at IS NULL"
                + " AND result_location IS NULL AND cleaned_at IS NULL"
        case .succeeded:
            "owner IS NULL AND finished_at IS NOT NULL AND result_location IS NOT NULL AND cleaned_at IS NULL"
        case .archived:
            "owner IS NULL AND finished_at IS NOT NULL AND result_location IS NOT NULL AND cleaned_at IS NOT NULL"
        case .failed:
            "owner IS NULL AND finished_at IS NOT NULL AND last_error IS NOT NULL AND result_location IS NULL"
                + " AND cleaned_at IS NULL"
        case .cancelled:
            "owner IS NULL AND finished_at IS NOT NULL AND result_location IS NULL AND cleaned_at IS NULL"
        }
    }

    /// One CASE over the state: each state belongs to the kinds whose lifecycle has it and carries
    /// the columns of its phase. Migration pg1 checks it inline; pg13 moved it into a function
    /// (``PostgresStateFitsSchema``).
    static var stateCase: String {
        let branches = JobState.allCases.compactMap { state -> String? in
            let kinds = JobKind.allCases.filter { JobLifecycle.of($0).states.contains(state) }
            guard !kinds.isEmpty else { return nil }
            let kindList = kinds.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            return "WHEN '\(state.rawValue)' THEN kind IN (\(kindList)) AND \(columns(of: state.phase))"
        }
        return "CASE state\n        \(branches.joined(separator: "\n        "))\n        ELSE false END"
    }

    static var stateCheck: String { "CHECK (\(stateCase))" }

    /// The initial state of each kind, as a CASE over the column `kind`.
    static var initialStateOfKind: String {
        let branches = JobKind.allCases.map {
            "WHEN '\($0.rawValue)' THEN '\(JobLifecycle.of($0).initialState.rawValue)'"
        }
        return "CASE kind \(branches.joined(separator: " ")) END"
    }

    /// The states in which a job waits to be claimed, quoted for an IN list.
    static var waitingStates: String {
        Set(JobKind.allCases.map { JobLifecycle.of($0).waitingState.rawValue }).sorted().map { "'\($0)'" }
            .joined(separator: ", ")
    }

    /// The states in which a worker holds a job, quoted for an IN list.
    static var runningStates: String {
        Set(JobKind.allCases.map { JobLifecycle.of($0).runningState.rawValue }).sorted().map { "'\($0)'" }
            .joined(separator: ", ")
    }

    static var roles: String { WorkerRole.allCases.map { "('\($0.rawValue)')" }.joined(separator: ", ") }

    // MARK: Tables

    static let tables = """
        -- Whether a text is JSON (the SQLite schema's json_valid).
        CREATE FUNCTION ferry_json_valid(value text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN
            PERFORM value::jsonb;
            RETURN true;
        EXCEPTION WHEN others THEN
            RETURN false;
        END $$;

        CREATE TABLE worker_roles (role text PRIMARY KEY CHECK (length(role) BETWEEN 1 AND 32));

        CREATE TABLE workers (
            id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
            role text NOT NULL REFERENCES worker_roles(role),
            slot integer NOT NULL CHECK (slot >= 0),
            pid integer CHECK (pid IS NULL OR pid > 0),
            started_at bigint NOT NULL,
            last_heartbeat_at bigint,
            exited_at bigint,
            exit_code integer,
            exit_signal integer CHECK (exit_signal IS NULL OR exit_signal > 0),
            exit_reason text CHECK (exit_reason IS NULL OR length(exit_reason) > 0),
            stderr_tail text,
            CHECK ((exited_at IS NULL) = (exit_reason IS NULL)),
            CHECK (exited_at IS NOT NULL OR (exit_code IS NULL AND exit_signal IS NULL AND stderr_tail IS NULL)),
            CHECK (exit_code IS NULL OR exit_signal IS NULL),
            CHECK (exited_at IS NULL OR exited_at >= started_at)
        );
        CREATE INDEX workers_live ON workers(role, slot) WHERE exited_at IS NULL;
        CREATE INDEX workers_by_start ON workers(started_at);

        CREATE TABLE jobs (
            -- An identity never hands out an id twice, even after the newest job is deleted.
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind text NOT NULL,
            state text NOT NULL,
            idempotency_key text CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
            priority integer NOT NULL DEFAULT 0,
            attempt integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
            max_attempts integer NOT NULL CHECK (max_attempts >= 1),
            owner text REFERENCES workers(id) ON DELETE RESTRICT,
            created_at bigint NOT NULL,
            updated_at bigint NOT NULL,
            due_at bigint NOT NULL,
            started_at bigint,
            heartbeat_at bigint,
            finished_at bigint,
            state_cause text NOT NULL,
            state_reason text,
            last_error text,
            last_error_code text,
            last_error_class text CHECK (last_error_class IS NULL OR last_error_class IN ('retryable', 'permanent')),
            bytes_done bigint NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),
            bytes_total bigint CHECK (bytes_total IS NULL OR bytes_total >= 0),
            resume_state text CHECK (resume_state IS NULL OR ferry_json_valid(resume_state)),
            result_location text CHECK (result_location IS NULL OR length(result_location) > 0),
            result_size bigint CHECK (result_size IS NULL OR result_size >= 0),
            result_sha256 text CHECK (result_sha256 IS NULL OR result_sha256 ~ '^[0-9a-f]{64}$'),
            result_content_type text,
            cleaned_at bigint,
            -- The target of the detail tables' (job_id, kind) foreign keys.
            UNIQUE (id, kind),
            CHECK (attempt <= max_attempts),
            CHECK (updated_at >= created_at),
            CHECK (finished_at IS NULL OR finished_at >= created_at),
            CHECK ((result_location IS NULL) = (result_size IS NULL) AND (result_size IS NULL) = (result_sha256 IS NULL)),
            CHECK ((last_error IS NULL) = (last_error_code IS NULL) AND (last_error IS NULL) = (last_error_class IS NULL)),
        """

    static var jobsCheck: String {
        """
            -- Each state belongs to its kind's lifecycle and carries exactly the columns it must.
            \(stateCheck)
        );
        -- Claims read due waiting jobs of a kind in claim order off this index.
        CREATE INDEX jobs_queue ON jobs(kind, state, priority DESC, due_at, id);
        CREATE INDEX jobs_by_owner ON jobs(owner) WHERE owner IS NOT NULL;
        -- One live or succeeded job per idempotency key; a failed or cancelled one frees its key.
        CREATE UNIQUE INDEX jobs_one_active_per_key ON jobs(kind, idempotency_key)
            WHERE idempotency_key IS NOT NULL AND state <> 'failed' AND state <> 'cancelled';

        CREATE TABLE job_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            at bigint NOT NULL,
            from_state text,
            to_state text NOT NULL,
            cause text NOT NULL,
            reason text,
            -- No foreign key: history outlives the retention of worker records.
            owner text,
            attempt integer NOT NULL,
            CHECK ((from_state IS NULL) = (cause = 'create'))
        );
        CREATE INDEX job_events_by_job ON job_events(job_id, id);
        """
    }

    static let details = """
        CREATE TABLE downloads (
            job_id bigint PRIMARY KEY,
            kind text NOT NULL DEFAULT 'download' CHECK (kind = 'download'),
            url text NOT NULL CHECK (length(url) BETWEEN 1 AND 8192),
            -- (PostgreSQL's text cannot hold a NUL byte at all.)
            file_name text CHECK (file_name IS NULL
                OR (length(file_name) BETWEEN 1 AND 255 AND strpos(file_name, '/') = 0
                    AND file_name <> '.' AND file_name <> '..')),
            expected_size bigint CHECK (expected_size IS NULL OR expected_size >= 0),
            expected_sha256 text CHECK (expected_sha256 IS NULL OR expected_sha256 ~ '^[0-9a-f]{64}$'),
            upload_targets text NOT NULL DEFAULT '[]'
                CHECK (ferry_json_valid(upload_targets) AND jsonb_typeof(upload_targets::jsonb) = 'array'),
            delete_after_upload boolean NOT NULL DEFAULT false,
            engine text CHECK (engine IS NULL OR engine IN ('ferry', 'aria2')),
            FOREIGN KEY (job_id, kind) REFERENCES jobs(id, kind) ON DELETE CASCADE
        );

        CREATE TABLE uploads (
            job_id bigint PRIMARY KEY,
            kind text NOT NULL DEFAULT 'upload' CHECK (kind = 'upload'),
            download_id bigint NOT NULL REFERENCES downloads(job_id) ON DELETE CASCADE,
            target text NOT NULL CHECK (length(target) BETWEEN 1 AND 64),
            -- The same download is never delivered twice to the same target.
            UNIQUE (download_id, target),
            FOREIGN KEY (job_id, kind) REFERENCES jobs(id, kind) ON DELETE CASCADE
        );
        CREATE INDEX uploads_by_download ON uploads(download_id);

        CREATE TABLE videos (
            job_id bigint PRIMARY KEY,
            kind text NOT NULL DEFAULT 'video' CHECK (kind = 'video'),
            user_id text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 255),
            external_request_id text NOT NULL CHECK (length(external_request_id) BETWEEN 1 AND 255),
            source_url text NOT NULL CHECK (length(source_url) BETWEEN 1 AND 8192),
            metadata text CHECK (metadata IS NULL OR ferry_json_valid(metadata)),
            UNIQUE (user_id, external_request_id),
            FOREIGN KEY (job_id, kind) REFERENCES jobs(id, kind) ON DELETE CASCADE
        );
        CREATE INDEX videos_by_user ON videos(user_id, job_id);

        CREATE TABLE cleanup_runs (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            trigger text NOT NULL CHECK (trigger IN ('schedule', 'request', 'startup')),
            dry_run boolean NOT NULL,
            state text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
            started_at bigint NOT NULL,
            finished_at bigint,
            report text CHECK (report IS NULL OR ferry_json_valid(report)),
            error text,
            CHECK ((state = 'running') = (finished_at IS NULL)),
            CHECK (state <> 'succeeded' OR report IS NOT NULL),
            CHECK ((state = 'failed') = (error IS NOT NULL)),
            CHECK (finished_at IS NULL OR finished_at >= started_at)
        );
        CREATE UNIQUE INDEX cleanup_runs_one_running ON cleanup_runs(state) WHERE state = 'running';

        -- One row rewritten before each watchdog ping: proof the database still takes writes.
        CREATE TABLE write_probe (id integer PRIMARY KEY CHECK (id = 1), at bigint NOT NULL);
        """

    static var transitions: String {
        """
        CREATE TABLE job_transitions (
            kind text NOT NULL,
            from_state text NOT NULL,
            cause text NOT NULL,
            to_state text NOT NULL,
            PRIMARY KEY (kind, from_state, cause)
        );
        INSERT INTO job_transitions (kind, from_state, cause, to_state) VALUES
            \(transitionRows);
        INSERT INTO worker_roles (role) VALUES \(roles);
        """
    }

    // MARK: Guards

    /// The update guard's function, as migration pg1 creates it and pg12 (which changed its
    /// download check) replaces it in databases made before.
    static var jobsOnChange: String {
        """
        -- Every update: a job never changes its kind; a change of state must be in the kind's
        -- lifecycle, caused by the command that makes it; a job runs only while a live worker
        -- holds it; a download succeeds only with the size and hash it was asked for; and every
        -- change of state is logged by the same statement, so none goes unrecorded.
        -- (Transition tables carry no statistics: without nested loops off, the planner joins them
        -- row by row and a batch's guard costs twice as much, measured on the pgbench branch. With
        -- nested loops off, a join to a real table hashes or walks all of it, so workers and
        -- downloads are looked up by the ids in hand instead, and sequential scans are off too:
        -- these plans are cached per connection, made while a table may still be small, and a
        -- scan of all downloads for each completion grows with the history. The plans are generic:
        -- a custom plan for each array of ids in hand was 67 µs of planning a completion.)
        CREATE OR REPLACE FUNCTION ferry_jobs_on_change() RETURNS trigger LANGUAGE plpgsql
            SET enable_nestloop = off SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $$
        DECLARE
            bad record;
            owners text[];
            succeeded bigint[];
        BEGIN
            IF EXISTS (SELECT 1 FROM changed n JOIN previous o USING (id) WHERE n.kind IS DISTINCT FROM o.kind) THEN
                RAISE EXCEPTION 'a job never changes its kind' USING ERRCODE = '\(invariantState)';
            END IF;
            SELECT n.kind, n.id, o.state AS from_state, n.state AS to_state, n.state_cause INTO bad
            FROM changed n JOIN previous o USING (id)
            WHERE n.state IS DISTINCT FROM o.state AND NOT EXISTS (
                SELECT 1 FROM job_transitions t
                WHERE t.kind = n.kind AND t.from_state = o.state AND t.cause = n.state_cause AND t.to_state = n.state)
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'illegal job transition' USING ERRCODE = '\(illegalTransitionState)',
                    DETAIL = format('%s %s: %s -> %s by %s', bad.kind, bad.id, bad.from_state, bad.to_state, bad.state_cause);
            END IF;
            owners := ARRAY(SELECT DISTINCT n.owner FROM changed n JOIN previous o USING (id)
                WHERE n.owner IS NOT NULL AND n.owner IS DISTINCT FROM o.owner);
            IF cardinality(owners) > 0 THEN
                IF EXISTS (SELECT 1 FROM workers WHERE id = ANY (owners) AND exited_at IS NOT NULL) THEN
                    RAISE EXCEPTION 'a job can only be claimed by a live worker' USING ERRCODE = '\(invariantState)';
                END IF;
            END IF;
            succeeded := ARRAY(SELECT n.id FROM changed n JOIN previous o USING (id)
                WHERE n.kind = 'download' AND n.state = 'succeeded' AND o.state IS DISTINCT FROM 'succeeded');
            IF cardinality(succeeded) > 0 THEN
                IF EXISTS (SELECT 1 FROM downloads d JOIN changed n ON n.id = d.job_id WHERE d.job_id = ANY (succeeded)
                    AND ((d.expected_size IS NOT NULL AND d.expected_size IS DISTINCT FROM n.result_size)
                        OR (d.expected_sha256 IS NOT NULL AND d.expected_sha256 IS DISTINCT FROM n.result_sha256)))
                THEN
                    RAISE EXCEPTION 'a download cannot succeed with a size or SHA-256 other than expected'
                        USING ERRCODE = '\(invariantState)';
                END IF;
            END IF;
            INSERT INTO job_events (job_id, at, from_state, to_state, cause, reason, owner, attempt)
            SELECT n.id, n.updated_at, o.state, n.state, n.state_cause, n.state_reason, COALESCE(n.owner, o.owner),
                n.attempt
            FROM changed n JOIN previous o USING (id)
            WHERE n.state IS DISTINCT FROM o.state
            ORDER BY n.id;
            RETURN NULL;
        END $$;
        """
    }

    static var guards: String {
        """
        -- The job guards run once per statement over its transition tables, set-based, rather
        -- than once per row (a PL/pgSQL call and up to three single-row statements per job cost
        -- more than the claim or completion itself in a batch). A refusal raised here still undoes
        -- the whole statement, so a refused row is never stored and leaves no event.

        -- Every insert: a new job starts in its lifecycle's initial state, and its creation is logged.
        CREATE FUNCTION ferry_jobs_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM created
                WHERE state_cause IS DISTINCT FROM 'create' OR state IS DISTINCT FROM (\(initialStateOfKind)))
            THEN
                RAISE EXCEPTION 'a new job starts in its lifecycle''s initial state' USING ERRCODE = '\(invariantState)';
            END IF;
            INSERT INTO job_events (job_id, at, from_state, to_state, cause, reason, owner, attempt)
            SELECT id, updated_at, NULL, state, state_cause, state_reason, owner, attempt FROM created ORDER BY id;
            RETURN NULL;
        END $$;
        CREATE TRIGGER jobs_on_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS created
            FOR EACH STATEMENT EXECUTE FUNCTION ferry_jobs_on_insert();

        \(jobsOnChange)
        CREATE TRIGGER jobs_on_change AFTER UPDATE ON jobs REFERENCING OLD TABLE AS previous NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION ferry_jobs_on_change();

        -- The log is append-only: no edits, and rows leave only together with their job.
        CREATE FUNCTION ferry_job_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                RAISE EXCEPTION 'job_events is append-only' USING ERRCODE = '\(invariantState)';
            END IF;
            IF EXISTS (SELECT 1 FROM jobs WHERE id = OLD.job_id) THEN
                RAISE EXCEPTION 'job_events is append-only: events are deleted only with their job'
                    USING ERRCODE = '\(invariantState)';
            END IF;
            RETURN OLD;
        END $$;
        CREATE TRIGGER job_events_append_only BEFORE UPDATE OR DELETE ON job_events
            FOR EACH ROW EXECUTE FUNCTION ferry_job_events_append_only();

        -- A worker's exit is recorded only after its jobs were put back.
        CREATE FUNCTION ferry_workers_guard_exit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.exited_at IS NOT NULL AND OLD.exited_at IS NULL AND EXISTS (
                SELECT 1 FROM jobs WHERE state IN (\(runningStates)) AND owner = NEW.id)
            THEN
                RAISE EXCEPTION 'requeue a worker''s jobs before recording its exit' USING ERRCODE = '\(invariantState)';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER workers_guard_exit BEFORE UPDATE OF exited_at ON workers
            FOR EACH ROW EXECUTE FUNCTION ferry_workers_guard_exit();

        -- Follow-up work exists only once its predecessor has succeeded.
        CREATE FUNCTION ferry_uploads_guard_download_done() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (SELECT state FROM jobs WHERE id = NEW.download_id) IS DISTINCT FROM 'succeeded' THEN
                RAISE EXCEPTION 'an upload is created only when its download has succeeded'
                    USING ERRCODE = '\(invariantState)';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER uploads_guard_download_done BEFORE INSERT ON uploads
            FOR EACH ROW EXECUTE FUNCTION ferry_uploads_guard_download_done();

        -- An upload's job goes with its download (the cascade removes the upload row first).
        CREATE FUNCTION ferry_uploads_leave_with_their_download() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM jobs WHERE id = OLD.job_id;
            RETURN NULL;
        END $$;
        CREATE TRIGGER uploads_leave_with_their_download AFTER DELETE ON uploads
            FOR EACH ROW EXECUTE FUNCTION ferry_uploads_leave_with_their_download();
        """
    }

    static let telegram = """
        CREATE TABLE telegram_bots (
            name text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
            next_offset bigint NOT NULL DEFAULT 0 CHECK (next_offset >= 0),
            updates bigint NOT NULL DEFAULT 0 CHECK (updates >= 0),
            ignored bigint NOT NULL DEFAULT 0 CHECK (ignored >= 0),
            duplicates bigint NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
            last_update_at bigint,
            user_id bigint NOT NULL DEFAULT 0
        );
        -- The offset only moves forward (unless another bot took over the name).
        CREATE FUNCTION ferry_telegram_offset_forward() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.next_offset < OLD.next_offset AND NEW.user_id = OLD.user_id THEN
                RAISE EXCEPTION 'a bot''s update offset never moves back' USING ERRCODE = 'FY002';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER telegram_bots_offset_forward BEFORE UPDATE OF next_offset ON telegram_bots
            FOR EACH ROW EXECUTE FUNCTION ferry_telegram_offset_forward();

        CREATE TABLE telegram_sources (
            job_id bigint PRIMARY KEY REFERENCES downloads(job_id) ON DELETE CASCADE,
            bot text NOT NULL REFERENCES telegram_bots(name),
            bot_user_id bigint NOT NULL DEFAULT 0,
            update_id bigint NOT NULL CHECK (update_id >= 0),
            item integer NOT NULL CHECK (item >= 0),
            chat_id bigint NOT NULL,
            message_id bigint NOT NULL,
            media_kind text NOT NULL
                CHECK (media_kind IN ('document', 'video', 'audio', 'photo', 'animation', 'link')),
            file_id text CHECK (file_id IS NULL OR length(file_id) BETWEEN 1 AND 1024),
            file_unique_id text CHECK (file_unique_id IS NULL OR length(file_unique_id) BETWEEN 1 AND 256),
            file_name text,
            mime_type text,
            file_size bigint CHECK (file_size IS NULL OR file_size >= 0),
            forced boolean NOT NULL DEFAULT false,
            reply_message_id bigint,
            CHECK ((media_kind = 'link') = (file_id IS NULL) AND (file_id IS NULL) = (file_unique_id IS NULL)),
            UNIQUE (bot, bot_user_id, update_id, item)
        );
        -- The same media from the same chat is one download, unless the sender forces another.
        CREATE UNIQUE INDEX telegram_sources_media_once ON telegram_sources(bot, chat_id, file_unique_id)
            WHERE file_unique_id IS NOT NULL AND NOT forced;
        """
}
