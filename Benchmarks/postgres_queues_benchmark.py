"""The peer figures on PostgreSQL: pgqueuer and procrastinate (PyPI), the PostgreSQL job queues a
Python user would pick, on the same server, the same number of jobs and the same payload (a
URL) as Ferry's rows. Each queue is used the way its documentation recommends:

- pgqueuer: `Queries.enqueue` (a list of jobs in one INSERT when batched, one call per job
  otherwise), then a `QueueManager` with a no-op entrypoint run in drain mode with
  `batch_size` = the batch: each dequeue claims up to that many jobs (`FOR UPDATE SKIP LOCKED`,
  status `picked`) and its completion buffer logs up to that many jobs done in one statement
  (deleted from the queue, written to `pgqueuer_log`).
- procrastinate: `Task.batch_defer_async` (one INSERT per batch) or `Task.defer_async` per job,
  then `App.run_worker_async(wait=False)`, whose worker fetches one job per transaction
  (`procrastinate_fetch_job`) and finishes it in another (`procrastinate_finish_job`, the job
  kept as `succeeded`): it has no batched fetch.

Prints one tab-separated row in the columns of Ferry's QueueBenchmark; the claim column is the
whole worker run (claim + no-op body + mark done), as litequeue's `pop+done` is on SQLite.
Usage: postgres_queues_benchmark.py pgqueuer|procrastinate JOBS BATCH URL
(URL names a fresh, empty database.)"""
import asyncio
import importlib.metadata
import logging
import sys
import time

import asyncpg


def url_of(index: int) -> str:
    return f"https://origin.example/file-{index}"


def row(name: str, batch: int, jobs: int, enqueue: float, work: float) -> str:
    return "\t".join(
        [
            name,
            "on",
            str(batch),
            str(jobs),
            f"{jobs / enqueue:.0f}",
            f"{jobs / work:.0f} (claim+done)",
            "-",
            f"{jobs / (enqueue + work):.0f}",
            f"{enqueue + work:.2f}",
        ]
    )


async def enqueue_all(jobs: int, batch: int, one, many) -> float:
    """Enqueues `jobs` URLs, `one(url)` per job when the batch is 1, else `many(urls)` per
    batch; returns the seconds it took."""
    start = time.perf_counter()
    for first in range(0, jobs, batch):
        if batch == 1:
            await one(url_of(first))
        else:
            await many([url_of(first + i) for i in range(min(batch, jobs - first))])
    return time.perf_counter() - start


async def pgqueuer(url: str, jobs: int, batch: int) -> tuple[float, float]:
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    connection = await asyncpg.connect(url)
    queries = Queries(AsyncpgDriver(connection))
    await queries.install()

    async def many(urls: list[str]) -> None:
        await queries.enqueue(["noop"] * len(urls), [url.encode() for url in urls], [0] * len(urls))

    enqueue = await enqueue_all(jobs, batch, lambda url: queries.enqueue("noop", url.encode()), many)
    manager = QueueManager(queries)

    @manager.entrypoint("noop")
    async def noop(job) -> None:
        pass

    start = time.perf_counter()
    await manager.run(batch_size=batch, mode=QueueExecutionMode.drain)
    return enqueue, time.perf_counter() - start


async def procrastinate(url: str, jobs: int, batch: int) -> tuple[float, float]:
    import procrastinate as pc

    app = pc.App(connector=pc.PsycopgConnector(conninfo=url))

    @app.task(name="noop", queue="bench")
    async def noop(url: str) -> None:
        pass

    async with app.open_async():
        await app.schema_manager.apply_schema_async()

        async def many(urls: list[str]) -> None:
            await noop.batch_defer_async(*({"url": url} for url in urls))

        enqueue = await enqueue_all(jobs, batch, lambda url: noop.defer_async(url=url), many)
        start = time.perf_counter()
        await app.run_worker_async(queues=["bench"], wait=False)
        return enqueue, time.perf_counter() - start


# What each queue must hold afterwards: every job done once, none left waiting, and (pgqueuer)
# every table logged, as its default `durable` install makes them.
CHECKS = {
    "pgqueuer": [
        ("SELECT count(*) FROM pgqueuer", lambda jobs: [(0,)]),
        (
            "SELECT status::text, count(*) FROM pgqueuer_log WHERE status NOT IN ('queued', 'picked') GROUP BY 1",
            lambda jobs: [("successful", jobs)],
        ),
        (
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'pgqueuer%' AND relkind = 'r' AND relpersistence <> 'p'",
            lambda jobs: [(0,)],
        ),
    ],
    "procrastinate": [
        ("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1", lambda jobs: [("succeeded", jobs)]),
    ],
}


async def main(queue: str, url: str, jobs: int, batch: int) -> str:
    runner = {"pgqueuer": pgqueuer, "procrastinate": procrastinate}[queue]
    enqueue, work = await runner(url, jobs, batch)
    connection = await asyncpg.connect(url)
    try:
        for query, expected in CHECKS[queue]:
            found = [tuple(record) for record in await connection.fetch(query)]
            assert found == expected(jobs), f"{queue}: {query}: expected {expected(jobs)}, found {found}"
    finally:
        await connection.close()
    return row(f"{queue} {importlib.metadata.version(queue)}", batch, jobs, enqueue, work)


if __name__ == "__main__":
    queue, jobs, batch, url = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    # Both libraries log at INFO per job when asked; keep their warnings only.
    logging.basicConfig(level=logging.WARNING)
    print(asyncio.run(main(queue, url, jobs, batch)), flush=True)
