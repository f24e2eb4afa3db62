-- Proposal 3 of BENCHMARKS.md's PostgreSQL section, for measuring only (VARIANTS=1 applies it to
-- a migrated benchmark database; Ferry's schema is Sources/FerryPostgres/Schema): the per-row
-- guards jobs_on_insert and jobs_on_change as statement-level triggers over transition tables,
-- so a statement of 500 rows runs each check and the event insert once, set-based, instead of
-- a PL/pgSQL run and up to four single-row statements per row. Same checks, same SQLSTATEs
-- (FY001 illegal transition, FY002 another invariant), same events in the same order.
DROP TRIGGER jobs_on_insert ON jobs;
DROP TRIGGER jobs_on_change ON jobs;

CREATE FUNCTION ferry_jobs_on_insert_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_jobs n WHERE n.state_cause IS DISTINCT FROM 'create' OR n.state IS DISTINCT FROM
        (CASE n.kind WHEN 'download' THEN 'queued' WHEN 'upload' THEN 'queued' WHEN 'video' THEN 'temporary' END))
    THEN
        RAISE EXCEPTION 'a new job starts in its lifecycle''s initial state' USING ERRCODE = 'FY002';
    END IF;
    INSERT INTO job_events (job_id, at, from_state, to_state, cause, reason, owner, attempt)
    SELECT n.id, n.updated_at, NULL, n.state, n.state_cause, n.state_reason, n.owner, n.attempt
    FROM new_jobs n ORDER BY n.id;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_on_insert_rows AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION ferry_jobs_on_insert_rows();

-- Transition tables have no statistics: without this the planner joins them by nested loops,
-- 500 × 500 comparisons per check (measured: half the speed of the per-row guards).
CREATE FUNCTION ferry_jobs_on_change_rows() RETURNS trigger LANGUAGE plpgsql SET enable_nestloop = off AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_jobs n JOIN old_jobs o ON o.id = n.id WHERE n.kind IS DISTINCT FROM o.kind) THEN
        RAISE EXCEPTION 'a job never changes its kind' USING ERRCODE = 'FY002';
    END IF;
    IF EXISTS (
        SELECT 1 FROM new_jobs n JOIN old_jobs o ON o.id = n.id
        WHERE n.state IS DISTINCT FROM o.state AND NOT EXISTS (
            SELECT 1 FROM job_transitions t
            WHERE t.kind = n.kind AND t.from_state = o.state AND t.cause = n.state_cause AND t.to_state = n.state))
    THEN
        RAISE EXCEPTION 'illegal job transition' USING ERRCODE = 'FY001';
    END IF;
    IF EXISTS (
        SELECT 1 FROM new_jobs n JOIN old_jobs o ON o.id = n.id JOIN workers w ON w.id = n.owner
        WHERE n.owner IS DISTINCT FROM o.owner AND w.exited_at IS NOT NULL)
    THEN
        RAISE EXCEPTION 'a job can only be claimed by a live worker' USING ERRCODE = 'FY002';
    END IF;
    IF EXISTS (
        SELECT 1 FROM new_jobs n JOIN old_jobs o ON o.id = n.id JOIN downloads d ON d.job_id = n.id
        WHERE n.kind = 'download' AND n.state = 'succeeded' AND o.state IS DISTINCT FROM 'succeeded'
            AND ((d.expected_size IS NOT NULL AND d.expected_size IS DISTINCT FROM n.result_size)
                OR (d.expected_sha256 IS NOT NULL AND d.expected_sha256 IS DISTINCT FROM n.result_sha256)))
    THEN
        RAISE EXCEPTION 'a download cannot succeed with a size or SHA-256 other than expected' USING ERRCODE = 'FY002';
    END IF;
    INSERT INTO job_events (job_id, at, from_state, to_state, cause, reason, owner, attempt)
    SELECT n.id, n.updated_at, o.state, n.state, n.state_cause, n.state_reason, COALESCE(n.owner, o.owner), n.attempt
    FROM new_jobs n JOIN old_jobs o ON o.id = n.id WHERE n.state IS DISTINCT FROM o.state ORDER BY n.id;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_on_change_rows AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION ferry_jobs_on_change_rows();
