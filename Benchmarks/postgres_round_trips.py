"""What fewer round trips and prepared statements would buy Ferry's PostgreSQL store one job per
transaction, measured on Ferry's own schema (a database migrated by Ferry, with a live worker):
enqueue → claim → complete of JOBS jobs with the statements the store sends today
(Sources/FerryPostgres: jobs and downloads INSERTs, the claim UPDATE and payload SELECT, the
completion UPDATE and upload-target SELECT), in three shapes:

- `as sent today`: BEGIN, two statements, COMMIT per step, each statement unnamed (parsed and
  planned on every call, as postgres-nio's unprepared queries are);
- `prepared`: the same round trips, each statement prepared once per connection;
- `one statement per step`: prepared, and each step one statement that is its own transaction
  (data-modifying CTEs: the download row inserted with its job, the payload returned with the
  claim, the upload targets with the completion), so no BEGIN or COMMIT round trips.

Every shape makes the same rows, events and commits (three per job). The shapes take turns three
times; prints each one's median.
Usage: postgres_round_trips.py JOBS URL"""
import asyncio
import statistics
import sys
import time

import asyncpg

JOB_COLUMNS = (
    "id, kind, state, idempotency_key, priority, attempt, max_attempts, owner, created_at, updated_at, due_at, "
    "started_at, heartbeat_at, finished_at, state_cause, state_reason, last_error, last_error_code, "
    "last_error_class, bytes_done, bytes_total, resume_state, result_location, result_size, result_sha256, "
    "result_content_type, cleaned_at"
)
INSERT_JOB = f"""INSERT INTO jobs (kind, state, idempotency_key, priority, attempt, max_attempts, created_at,
    updated_at, due_at, state_cause, state_reason)
    VALUES ('download', 'queued', NULL, 0, 0, 5, $1, $1, $1, 'create', NULL) RETURNING {JOB_COLUMNS}"""
INSERT_DOWNLOAD = """INSERT INTO downloads (job_id, url, file_name, expected_size, expected_sha256, upload_targets,
    delete_after_upload, engine) VALUES ($1, $2, NULL, NULL, NULL, '[]', false, NULL)"""
CLAIM = f"""UPDATE jobs SET state = 'running', state_cause = 'claim', state_reason = NULL, owner = $1,
    attempt = attempt + 1, started_at = $2, heartbeat_at = $2, updated_at = $2
    WHERE id IN (SELECT id FROM jobs WHERE kind = 'download' AND state = 'queued' AND due_at <= $2
        ORDER BY priority DESC, due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING {JOB_COLUMNS}"""
PAYLOAD = """SELECT job_id, url, file_name, expected_size, expected_sha256, delete_after_upload, upload_targets,
    engine FROM downloads WHERE job_id = ANY($1::bigint[])"""
COMPLETE = f"""UPDATE jobs SET state = 'succeeded', state_cause = 'complete', state_reason = NULL, owner = NULL,
    finished_at = $4, updated_at = $4, result_location = $5, result_size = 1, result_sha256 = $6,
    bytes_done = 1, bytes_total = 1
    WHERE id = $1 AND owner = $2 AND attempt = $3 AND state IN ('running', 'storing')
    RETURNING {JOB_COLUMNS}"""
TARGETS = """SELECT d.job_id, t.target FROM downloads d,
    jsonb_array_elements_text(d.upload_targets::jsonb) WITH ORDINALITY AS t(target, position)
    WHERE d.job_id = ANY($1::bigint[]) AND d.upload_targets <> '[]'
        AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.download_id = d.job_id AND u.target = t.target)
    ORDER BY d.job_id, t.position"""
ENQUEUE_ONE = f"""WITH job AS ({INSERT_JOB}),
    download AS (INSERT INTO downloads (job_id, url, upload_targets) SELECT id, $2, '[]' FROM job)
    SELECT * FROM job"""
CLAIM_ONE = f"""WITH claimed AS ({CLAIM})
    SELECT claimed.*, d.url, d.file_name, d.expected_size, d.expected_sha256, d.delete_after_upload,
        d.upload_targets, d.engine FROM claimed JOIN downloads d ON d.job_id = claimed.id"""
COMPLETE_ONE = f"""WITH done AS ({COMPLETE})
    SELECT done.*, (SELECT upload_targets FROM downloads WHERE job_id = done.id) FROM done"""
SHA = "ab" * 32


def now() -> int:
    return int(time.time() * 1000)


async def as_sent(connection, worker: str, index: int) -> None:
    async with connection.transaction():
        job = await connection.fetchrow(INSERT_JOB, now())
        await connection.execute(INSERT_DOWNLOAD, job["id"], f"https://origin.example/file-{index}")
    async with connection.transaction():
        claimed = await connection.fetchrow(CLAIM, worker, now())
        await connection.fetch(PAYLOAD, [claimed["id"]])
    async with connection.transaction():
        row = await connection.fetchrow(COMPLETE, claimed["id"], worker, claimed["attempt"], now(), "/spool/x", SHA)
        assert row is not None, "the completion found no job"
        await connection.fetch(TARGETS, [claimed["id"]])


async def one_statement(connection, worker: str, index: int) -> None:
    await connection.fetchrow(ENQUEUE_ONE, now(), f"https://origin.example/file-{index}")
    claimed = await connection.fetchrow(CLAIM_ONE, worker, now())
    row = await connection.fetchrow(COMPLETE_ONE, claimed["id"], worker, claimed["attempt"], now(), "/spool/x", SHA)
    assert row is not None, "the completion found no job"


SHAPES = (
    ("as sent today (BEGIN, 2 unnamed statements, COMMIT per step)", 0, as_sent),
    ("prepared (same round trips)", 100, as_sent),
    ("one prepared statement per step, no BEGIN/COMMIT", 100, one_statement),
)


async def run(url: str, jobs: int, cache: int, step) -> float:
    """Seconds per job for `jobs` jobs through `step` on a new connection."""
    # statement_cache_size=0: asyncpg then sends every statement unnamed, planned on each call.
    connection = await asyncpg.connect(url, statement_cache_size=cache)
    try:
        worker = await connection.fetchval("SELECT id FROM workers WHERE exited_at IS NULL LIMIT 1")
        before = await connection.fetchval("SELECT count(*) FROM jobs WHERE state = 'succeeded'")
        start = time.perf_counter()
        for index in range(jobs):
            await step(connection, worker, index)
        seconds = time.perf_counter() - start
        after = await connection.fetchval("SELECT count(*) FROM jobs WHERE state = 'succeeded'")
        assert after - before == jobs, f"{after - before} of {jobs} jobs succeeded"
        return seconds / jobs
    finally:
        await connection.close()


async def main(jobs: int, url: str, rounds: int = 3) -> None:
    """The shapes take turns, `rounds` times (the machine's load drifts); prints each one's median."""
    times = {name: [] for name, _, _ in SHAPES}
    for _ in range(rounds):
        for name, cache, step in SHAPES:
            times[name].append(await run(url, jobs, cache, step))
    for name, _, _ in SHAPES:
        per_job = statistics.median(times[name])
        print(f"{name}\t{jobs}\t{1 / per_job:.0f} jobs/s\t{per_job * 1000:.2f} ms per job (median of {rounds})")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
