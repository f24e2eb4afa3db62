"""Scenario disk-full: the state folder on a 40 MiB tmpfs fills up mid-transfer; then space returns.

Run twice: the spool and downloads fill up while the database lives elsewhere, then the
database shares the full disk (the default layout). Needs root to mount the tmpfs.
"""
import os
import sqlite3
import time

from ..daemon import Ferry, base_config, free_port
from ..database import all_final, query
from ..invariants import check_database, file_sha256
from ..mounts import resize, tmpfs
from ..origin import Origin, origin_sha256
from ..processes import wait_until
from ..report import REPORT, log


def run(args, binary, scratch, lifecycles):
    if os.geteuid() != 0:
        REPORT.skip("disk-full", "a full disk fails transfers with a clear retryable error", "needs root to mount a tmpfs")
        return
    # The spool and downloads fill up while the database lives elsewhere; then everything, the
    # database included, sits on the disk that fills up (the default layout).
    disk_full_case(binary, scratch, lifecycles, "disk-full (spool)", database_on_disk=False)
    disk_full_case(binary, scratch, lifecycles, "disk-full (all)", database_on_disk=True)


def disk_full_case(binary, scratch, lifecycles, scenario, database_on_disk):
    name = "a full disk fails transfers with a clear retryable error, fails no job, corrupts nothing"
    resumed = "work resumes when space returns: every download completes, byte-identical, nothing stray"
    label = "all" if database_on_disk else "spool"
    mount = scratch / f"small-disk-{label}"
    with tmpfs(mount, "40m"):
        ferry = None
        try:
            origin = Origin(scratch)
            state = mount / "state"
            database = state / "ferry.sqlite" if database_on_disk else scratch / f"disk-full-{label}.sqlite"
            port = free_port()
            extra = f"database:\n  path: {database}\nworkers:\n  download:\n    processes: 1\n    concurrency: 4\n"
            # A small reserve, as the default 1GiB is on a real disk: once a write hits the wall and
            # free space is below it, downloads wait without spending attempts.
            ferry = Ferry(binary, scratch, base_config(state, port, extra, spool_reserve="4MiB"), f"disk-full-{label}")
            ferry.start()
            size = 6 << 20
            ids = []
            for index in range(12):
                key = f"full-{label}-{index}"
                body = {"url": origin.url(size, key=key, rate=3_000_000), "file_name": f"big-{index}.bin",
                        "sha256": origin_sha256(size), "size": size}
                status, answer, _ = ferry.api.call("POST", "/api/downloads", body, {"Idempotency-Key": key})
                REPORT.check(scenario, name, status == 201, f"submission {index} answered {status}: {answer}")
                if status == 201:
                    ids.append(answer["id"])

            def space_events():
                try:
                    return [r[0] for r in query(database, "SELECT DISTINCT reason FROM job_events WHERE cause = "
                                                 "'schedule_retry' AND reason LIKE '%disk_full%'")]
                except sqlite3.Error:
                    return []

            def health_fail():
                try:
                    status, health, _ = ferry.api.call("GET", "/api/health/system", timeout=5)
                except OSError:
                    return None
                failing = [c.get("output", "") for checks in health.get("checks", {}).values() for c in checks
                           if c["status"] == "fail"]
                return (status, failing) if status == 503 and failing else None

            def full():
                return os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize < (1 << 20)

            if database_on_disk:
                # Nothing can be recorded while the database's own disk is full: the health must say so.
                # The disk's own low-space check may fail first; the database's write probe follows on
                # its next turn, so wait for a failing check that names the database.
                last = {}

                def database_fail():
                    answer = full() and health_fail()
                    if answer:
                        last["checks"] = answer[1]
                    return answer if answer and any("database" in text for text in answer[1]) else None

                seen = wait_until(database_fail, 90, 1)
                if not seen and last:
                    seen = (503, last["checks"])
                REPORT.check(scenario, name, bool(seen), "within 90 s of filling the disk, /api/health/system did not "
                             "answer 503 with a failing check")
                if seen:
                    REPORT.check(scenario, name, any("database" in text for text in seen[1]),
                                 f"the failing checks do not name the database: {seen[1]}",
                                 f"health 503 while full: {'; '.join(seen[1])[:160]}")
                time.sleep(5)  # let the workers run into the wall for a while
            else:
                reasons = wait_until(space_events, 90, 1)
                errors = query(database, "SELECT DISTINCT last_error FROM jobs WHERE last_error_code = 'disk_full'")
                REPORT.check(scenario, name, bool(reasons), "no retry for lack of space was recorded within 90 s of "
                             "filling a 40 MiB disk with 72 MiB of downloads",
                             f"{reasons[0] if reasons else '-'}: {errors[0][0] if errors else '-'}")
                time.sleep(10)  # the disk stays full a while: nothing may fail for good meanwhile
            try:
                failed = query(database, "SELECT id, last_error_code, last_error FROM jobs WHERE state = 'failed'")
            except sqlite3.Error as error:
                failed = [("database unreadable", str(error))]
            REPORT.check(scenario, name, not failed, f"jobs failed for good while the disk was full: "
                         f"{[tuple(r) for r in failed]}")
            REPORT.check(scenario, name, ferry.process.poll() is None,
                         f"the supervisor exited ({ferry.process.returncode}) on a full disk: {ferry.log_tail(5)}")
            # Space returns.
            resize(mount, "200m")
            log(f"{scenario}: space returned")
            if ferry.process.poll() is not None:
                ferry.start()

            done = wait_until(lambda: all_final(database), 150, 1)
            rows = query(database, "SELECT id, state, result_location, result_sha256, last_error FROM jobs")
            bad = [tuple(r) for r in rows if r["state"] != "succeeded"]
            REPORT.check(scenario, resumed, done and not bad, f"not all succeeded within 150 s of space returning: {bad}")
            for row in rows:
                if row["state"] == "succeeded" and file_sha256(row["result_location"]) != origin_sha256(size):
                    REPORT.violate(scenario, resumed, f"job {row['id']}: {row['result_location']} does not match")
            REPORT.check(scenario, resumed, sorted(r["id"] for r in rows) == sorted(ids),
                         f"jobs {sorted(r['id'] for r in rows)} are not the submitted {sorted(ids)}")
            for root, _, names in os.walk(state / "downloads"):
                for file_name in names:
                    path = os.path.join(root, file_name)
                    if path not in {r["result_location"] for r in rows}:
                        REPORT.violate(scenario, resumed, f"{path} at a final path with no record")
            reasons = space_events()
            REPORT.check(scenario, resumed, bool(reasons), "no attempt's lack of space made it into the event log")
            REPORT.detail(scenario, resumed, f"{len(rows)} downloads of 6 MiB into 40 MiB; "
                          f"{len(query(database, 'SELECT 1 FROM job_events WHERE reason LIKE ?', ('%disk_full%',)))} "
                          f"retries for lack of space")
            status = ferry.stop()
            REPORT.check(scenario, resumed, status == 0, f"the supervisor's stop exited {status}")
            check_database(scenario, database, lifecycles)
        finally:
            if ferry and ferry.process and ferry.process.poll() is None:
                ferry.process.kill()
                ferry.process.wait()
