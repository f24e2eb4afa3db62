"""Scenario full-target: a `dir` target on a 20 MiB tmpfs receives 40 MiB of uploads; then it grows.

While the target is full, uploads must fail their attempts with a clear retryable error
(`disk_full`) and none for good, the downloads' files must stay where they are (they are the
uploads' source), and the target must never show a file at a final name that is not whole.
Once space returns every upload must succeed byte-identical, with no temporary file left in the
target. Needs root to mount the tmpfs.
"""
import os
import time

from ..daemon import Ferry, base_config, free_port
from ..database import all_final, query
from ..invariants import check_database, file_sha256
from ..mounts import resize, tmpfs
from ..origin import Origin, origin_sha256
from ..processes import wait_until
from ..report import REPORT, log

SCENARIO = "full-target"
FULL = "a full target folder fails upload attempts clearly (disk_full), fails none for good, keeps every source"
WHOLE = "a full target folder never shows a partial file at a final name"
RESUMED = "uploads resume when the target has space: each succeeds byte-identical, no temporary file left"


def run(args, binary, scratch, lifecycles):
    if os.geteuid() != 0:
        REPORT.skip(SCENARIO, FULL, "needs root to mount a tmpfs")
        return
    target = scratch / "small-target"
    with tmpfs(target, "20m"):
        REPORT.declare(SCENARIO, WHOLE)
        ferry = None
        try:
            origin = Origin(scratch)
            state = scratch / "full-target-state"
            database = state / "ferry.sqlite"
            extra = (f"targets:\n  small:\n    type: dir\n    path: {target}\n"
                     "workers:\n  upload:\n    processes: 1\n    concurrency: 4\n")
            ferry = Ferry(binary, scratch, base_config(state, free_port(), extra), "full-target")
            ferry.start()
            size = 5 << 20
            ids = []
            for index in range(8):
                key = f"full-target-{index}"
                body = {"url": origin.url(size, key=key), "file_name": f"clip-{index}.bin", "sha256": origin_sha256(size),
                        "size": size, "upload_targets": ["small"]}
                status, answer, _ = ferry.api.call("POST", "/api/downloads", body, {"Idempotency-Key": key})
                REPORT.check(SCENARIO, FULL, status == 201, f"submission {index} answered {status}: {answer}")
                if status == 201:
                    ids.append(answer["id"])

            def final_names_whole():
                for name in os.listdir(target):
                    path = target / name
                    if name.startswith(".") or not path.is_file():
                        continue
                    if os.path.getsize(path) != size or file_sha256(path) != origin_sha256(size):
                        REPORT.violate(SCENARIO, WHOLE, f"{path} is at a final name but not whole")

            def refused_for_space():
                rows = query(database, "SELECT DISTINCT reason FROM job_events WHERE cause = 'schedule_retry' "
                             "AND reason LIKE '%disk_full%'")
                return [r[0] for r in rows]

            reasons = wait_until(refused_for_space, 90, 0.5)
            REPORT.check(SCENARIO, FULL, bool(reasons), "no upload attempt failed for lack of space within 90 s "
                         "of sending 40 MiB to a 20 MiB target", f"{reasons[0] if reasons else '-'}")
            # The target stays full a while: attempts keep failing, nothing may fail for good, and
            # nothing half-written may appear at a final name.
            for _ in range(10):
                final_names_whole()
                time.sleep(1)
            failed = query(database, "SELECT id, kind, last_error_code FROM jobs WHERE state = 'failed'")
            REPORT.check(SCENARIO, FULL, not failed, f"jobs failed for good while the target was full: "
                         f"{[tuple(r) for r in failed]}")
            sources = query(database, "SELECT id, result_location FROM jobs WHERE kind = 'download'")
            missing = [tuple(r) for r in sources if not r["result_location"] or not os.path.exists(r["result_location"])]
            REPORT.check(SCENARIO, FULL, not missing, f"downloads whose file is gone while their uploads wait: {missing}",
                         f"{len(sources)} downloads kept while the target was full")

            resize(target, "100m")
            log(f"{SCENARIO}: space returned")
            done = wait_until(lambda: all_final(database), 120, 1)
            uploads = query(database, "SELECT id, state, result_location, last_error FROM jobs WHERE kind = 'upload'")
            bad = [tuple(r) for r in uploads if r["state"] != "succeeded"]
            REPORT.check(SCENARIO, RESUMED, done and not bad and len(uploads) == len(ids),
                         f"within 120 s of space returning: {len(uploads)} uploads for {len(ids)} downloads, "
                         f"not succeeded: {bad}")
            for row in uploads:
                if row["state"] == "succeeded" and file_sha256(row["result_location"]) != origin_sha256(size):
                    REPORT.violate(SCENARIO, RESUMED, f"upload {row['id']}: {row['result_location']} does not match")
            final_names_whole()
            leftovers = [name for name in os.listdir(target) if name.startswith(".")]
            REPORT.check(SCENARIO, RESUMED, not leftovers, f"temporary files left in the target: {leftovers}",
                         f"{len(uploads)} uploads of 5 MiB into a 20 MiB target, then 100 MiB; "
                         f"{len(query(database, 'SELECT 1 FROM job_events WHERE reason LIKE ?', ('%disk_full%',)))} "
                         "attempts refused for lack of space")
            status = ferry.stop()
            REPORT.check(SCENARIO, RESUMED, status == 0, f"the supervisor's stop exited {status}")
            check_database(SCENARIO, database, lifecycles)
        finally:
            if ferry and ferry.process and ferry.process.poll() is None:
                ferry.process.kill()
                ferry.process.wait()
