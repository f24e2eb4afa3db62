"""Scenario s3-faults: uploads to an S3 target whose server fails a quarter of the writes.

moto's S3 server sits behind the fault proxy (s3proxy.py): 500 InternalError, 503 SlowDown,
connections cut halfway through a part, a slow trickle, CompleteMultipartUpload answered with a
failure after the server completed the object, and CreateMultipartUpload answered with a failure
after the server began the upload. Downloads from the origin (whole-object
PUTs and multipart uploads of 2–4 parts) are delivered to the bucket, some removed after
delivery. Then: every upload ends succeeded, each object is there exactly once with the right
content, no multipart upload is left unfinished, and the database is sound.
"""
import random
import time

from ..daemon import Ferry, base_config, free_port
from ..database import FINAL_PHASES, query
from ..invariants import check_database
from ..origin import Moto, Origin, origin_sha256, s3_target
from ..processes import wait_until
from ..report import REPORT, log
from ..s3proxy import S3FaultProxy

SCENARIO = "s3-faults"
ENDED = "every upload through the faulty S3 server ends succeeded (retried with the reason recorded)"
OBJECTS = "the bucket holds each object exactly once, with the right content, and no unfinished multipart upload"


def run(args, binary, scratch, lifecycles):
    rng = random.Random(args.seed)
    origin = Origin(scratch)
    moto = Moto(scratch)
    proxy = S3FaultProxy(int(moto.endpoint.rsplit(":", 1)[1]), args.seed)
    secret = scratch / "s3-faults-secret"
    secret.write_text("testing")
    state = scratch / "s3-faults-state"
    targets = """workers:
  download:
    processes: 1
    concurrency: 4
  upload:
    processes: 2
    concurrency: 3
targets:
""" + s3_target("bucket", proxy.endpoint, secret)
    ferry = Ferry(binary, scratch, base_config(state, free_port(), targets), "s3-faults")
    database = state / "ferry.sqlite"
    try:
        ferry.start()
        wanted = {}  # download id -> (size, sha256)
        for index in range(24):
            size = rng.randint(6 << 20, 16 << 20) if index % 2 else rng.randint(20_000, 3_000_000)
            key = f"s3-{args.seed}-{index}"
            body = {"url": origin.url(size, key=key), "file_name": f"object-{index}.bin", "size": size,
                    "sha256": origin_sha256(size), "upload_targets": ["bucket"],
                    "delete_after_upload": rng.random() < 0.3}
            status, answer, _ = ferry.api.call("POST", "/api/downloads", body, {"Idempotency-Key": key})
            REPORT.check(SCENARIO, ENDED, status == 201, f"submission {index} answered {status}: {answer}")
            if status == 201:
                wanted[answer["id"]] = (size, origin_sha256(size))
        log(f"s3-faults: {len(wanted)} downloads to the bucket behind the fault proxy {proxy.endpoint}")

        def finished():
            try:
                rows = query(database, "SELECT state FROM jobs")
            except Exception:  # noqa: BLE001 — busy or mid-write: look again
                return False
            uploads = query(database, "SELECT count(*) FROM uploads")[0][0]
            return uploads == len(wanted) and all(r[0] in FINAL_PHASES for r in rows)

        started = time.monotonic()
        done = wait_until(finished, 420, 1)
        log(f"s3-faults: {'all final' if done else 'NOT final'} after {time.monotonic() - started:.0f} s; "
            f"proxy requests {proxy.requests}, faults {proxy.counts}")
        REPORT.check(SCENARIO, ENDED, done, "not every job was final 420 s after the submissions")
        jobs = {r["id"]: r for r in query(database, "SELECT * FROM jobs")}
        uploads = {r["job_id"]: r for r in query(database, "SELECT * FROM uploads")}
        for job in jobs.values():
            good = ("succeeded", "cleaned") if job["kind"] == "upload" else ("succeeded",)
            if job["state"] not in good:
                REPORT.violate(SCENARIO, ENDED, f"{job['kind']} {job['id']} is {job['state']}: "
                               f"{job['last_error_code']}: {job['last_error']} (attempt {job['attempt']})")
        retries = query(database, "SELECT reason FROM job_events e JOIN jobs j ON j.id = e.job_id "
                        "WHERE j.kind = 'upload' AND e.cause = 'schedule_retry'")
        unexplained = [r[0] for r in retries if not r[0]]
        REPORT.check(SCENARIO, ENDED, not unexplained, f"{len(unexplained)} upload retries without a reason")
        REPORT.detail(SCENARIO, ENDED, f"{len(uploads)} uploads, {len(retries)} retries; faults "
                      + ", ".join(f"{v} {k}" for k, v in sorted(proxy.counts.items())))

        objects, unfinished = moto.objects()
        REPORT.declare(SCENARIO, OBJECTS)
        per_download = {}
        for key, (size, sha, meta) in objects.items():
            head = key.split("/", 1)[0]
            if not head.isdigit() or int(head) not in wanted:
                REPORT.violate(SCENARIO, OBJECTS, f"unexpected object {key}")
                continue
            per_download.setdefault(int(head), []).append((key, size, sha, meta))
        for download, (size, sha) in wanted.items():
            copies = per_download.get(download, [])
            if len(copies) != 1:
                REPORT.violate(SCENARIO, OBJECTS, f"download {download}: {len(copies)} objects {[c[0] for c in copies]}")
            elif copies[0][1:3] != (size, sha) or copies[0][3] not in (None, sha):
                REPORT.violate(SCENARIO, OBJECTS, f"{copies[0][0]} has {copies[0][1]} bytes {copies[0][2][:12]}… "
                               f"(x-amz-meta-sha256 {copies[0][3]}), expected {size} bytes {sha[:12]}…")
        if unfinished:
            REPORT.violate(SCENARIO, OBJECTS, f"{len(unfinished)} unfinished multipart upload(s): {unfinished[:5]}")
        REPORT.detail(SCENARIO, OBJECTS, f"{len(objects)} objects, {sum(1 for s, _ in wanted.values() if s >= 5 << 20)} "
                      f"of them multipart")
        status = ferry.stop()
        REPORT.check(SCENARIO, ENDED, status == 0, f"the supervisor's stop exited {status}")
        check_database(SCENARIO, database, lifecycles)
    finally:
        proxy.stop()
