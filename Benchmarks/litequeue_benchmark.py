"""The peer figure: litequeue (PyPI), the SQLite queue a Python user would pick, on the same
number of jobs as Ferry's runs: put, pop and done for each job, one transaction per operation
(litequeue has no batch API). Prints one tab-separated line per durability setting."""
import os
import sys
import time

from litequeue import LiteQueue


def run(path: str, jobs: int, synchronous: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    queue = LiteQueue(path)
    # litequeue sets synchronous=NORMAL itself; FULL is Ferry's default durability.
    queue.conn.execute(f"PRAGMA synchronous = {synchronous}")
    start = time.perf_counter()
    for index in range(jobs):
        queue.put(f"https://origin.example/file-{index}")
    put_done = time.perf_counter()
    for _ in range(jobs):
        message = queue.pop()
        queue.done(message.message_id)
    end = time.perf_counter()
    remaining = queue.qsize()
    assert remaining == 0, f"{remaining} jobs left in litequeue"
    pipeline = jobs / (end - start)
    print(
        f"litequeue 0.9\t{synchronous.lower()}\t1\t{jobs}\t{jobs / (put_done - start):.0f}\t"
        f"{jobs / (end - put_done):.0f} (pop+done)\t-\t{pipeline:.0f}\t{end - start:.2f}"
    )


if __name__ == "__main__":
    folder, jobs = sys.argv[1], int(sys.argv[2])
    for synchronous in ("FULL", "NORMAL"):
        run(os.path.join(folder, f"litequeue-{synchronous.lower()}.sqlite"), jobs, synchronous)
