"""The fire scenario's invariants on what it leaves behind, and `--tamper`, the checks' own check.

Submissions against the database (nothing lost, nothing made up), outcomes against the faults,
the hung worker's jobs, local files against their records and the targets against the origin.
"""
import json
import os
import sqlite3
import time
from pathlib import Path

from ...database import FINAL_PHASES, WAITING_STATES, query
from ...invariants import file_sha256
from ...origin import BUCKET, origin_sha256
from ...report import REPORT, log


def tamper(database, state, folder, moto):
    """The suite's own check (--tamper): damage one thing per invariant, so that each must fail."""
    log("fire: TAMPERING on purpose: every check below should find what was done")
    copy = next(Path(root) / name for root, _, names in os.walk(folder) for name in names)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    (copy.parent / f".{copy.name}.ferry-1-1.part").write_bytes(b"partial")
    kept = [r[0] for r in query(database, "SELECT result_location FROM jobs WHERE kind = 'download' "
                                "AND state = 'succeeded' ORDER BY id")]
    victim = next(location for location in kept if os.path.exists(location))
    os.unlink(victim)
    (state / "downloads" / "999999").mkdir()
    (state / "downloads" / "999999" / "orphan.bin").write_bytes(b"nobody's")
    key = next(iter(moto.objects()[0]))
    moto.client.delete_object(Bucket=BUCKET, Key=key)
    connection = sqlite3.connect(database)
    job = connection.execute("SELECT id FROM jobs WHERE state = 'succeeded' LIMIT 1").fetchone()[0]
    connection.execute("INSERT INTO job_events (job_id, at, from_state, to_state, cause, attempt) "
                       "VALUES (?, ?, 'succeeded', 'running', 'claim', 1)", (job, int(time.time() * 1000)))
    connection.commit()
    connection.close()
    log(f"fire: tampered with {copy}, removed {victim} and bucket object {key}, added an orphan, "
        f"a temporary file and an illegal event for job {job}")


def check_fire_results(scenario, plans, database, states, folder, moto, origin, hung_jobs, leftover=None,
                       changed_sources=frozenset(), lost_nodes=frozenset()):
    """`database`: a SQLite path or a `PostgresStore`; `states`: every node's state folder (one for a
    single node); `hung_jobs`: {worker id: (stopped at, job ids)} of SIGSTOPped workers; `leftover(path)`:
    whether a file no record points at may stay, even quarantined (a copy left by work another node
    took over); `changed_sources`: downloads fetched again after their node died whose source had
    changed meanwhile: they end failed (`checksum_mismatch`, the refetch is pinned to the lost file),
    their waiting uploads fail `source_missing`, and a target may keep what the lost node delivered;
    `lost_nodes`: node ids gone for good with their files, whose delivered downloads' clean-ups (to
    remove the file after its uploads) no node can do: they stay delivered, not cleaned."""
    jobs = {r["id"]: r for r in query(database, "SELECT * FROM jobs")}
    downloads = {r["job_id"]: r for r in query(database, "SELECT * FROM downloads")}
    uploads = {r["job_id"]: r for r in query(database, "SELECT * FROM uploads")}
    videos = {r["job_id"]: r for r in query(database, "SELECT * FROM videos")}
    events = {}
    for row in query(database, "SELECT job_id, cause, owner, at FROM job_events"):
        events.setdefault(row["job_id"], []).append((row["cause"], row["owner"], row["at"]))
    now_ms = int(time.time() * 1000)

    # 1. Nothing lost, nothing made up.
    lost = "every submission was accepted and is in the database exactly once, with its input"
    REPORT.declare(scenario, lost)
    by_key = {}
    for job in jobs.values():
        if job["kind"] == "download":
            by_key.setdefault(job["idempotency_key"], []).append(job["id"])
    by_video = {}
    for video in videos.values():
        by_video.setdefault((video["user_id"], video["external_request_id"]), []).append(video["job_id"])
    expected_ids = set()
    for plan in plans:
        if plan.refused:
            REPORT.violate(scenario, lost, f"{plan.kind} {plan.key}: {plan.refused}")
            continue
        if plan.kind == "download":
            found = sorted(by_key.get(plan.key, []))
            row = downloads.get(plan.job_id)
            if found != sorted(set(plan.answers)) or row is None:
                REPORT.violate(scenario, lost, f"download {plan.key}: answered jobs {plan.answers}, database has {found}")
                continue
            # A key is free for a new job only once the job before it failed or was cancelled.
            for earlier in found[:-1]:
                if jobs[earlier]["state"] not in ("failed", "cancelled"):
                    REPORT.violate(scenario, lost, f"download {plan.key}: job {earlier} is {jobs[earlier]['state']}, "
                                   f"yet the same key made job {found[-1]}")
            expected_ids.update(found)
            wanted = (plan.body["url"], plan.body.get("file_name"), plan.body.get("sha256"), plan.body.get("size"),
                      sorted(plan.body.get("upload_targets", [])), int(plan.body.get("delete_after_upload", False)))
            have = [row["url"], row["file_name"], row["expected_sha256"], row["expected_size"],
                    sorted(json.loads(row["upload_targets"])), row["delete_after_upload"]]
            # A download fetched again after its node died is pinned to the lost file's hash and size.
            if any(cause == "refetch" for cause, _, _ in events.get(plan.job_id, [])):
                have[2] = have[2] if plan.body.get("sha256") else None
                have[3] = have[3] if plan.body.get("size") else None
            if wanted != tuple(have):
                REPORT.violate(scenario, lost, f"download {plan.job_id}: input {have} differs from the request {wanted}")
        else:
            found = by_video.get((plan.body["user_id"], plan.key), [])
            if found != [plan.job_id] or videos[plan.job_id]["source_url"] != plan.body["url"]:
                REPORT.violate(scenario, lost, f"video {plan.key}: answered job {plan.job_id}, database has {found}")
                continue
        expected_ids.add(plan.job_id)
    extra = [j for j in jobs.values() if j["kind"] != "upload" and j["id"] not in expected_ids]
    if extra:
        REPORT.violate(scenario, lost, f"{len(extra)} download/video jobs nobody submitted: {[j['id'] for j in extra[:10]]}")
    REPORT.detail(scenario, lost, f"{len(plans)} submissions: "
                  f"{sum(p.kind == 'download' for p in plans)} downloads, {sum(p.kind == 'video' for p in plans)} videos")

    # 2. Final or legitimately queued; expected outcomes.
    final = "every job is final or legitimately queued (waiting out a retry delay)"
    REPORT.declare(scenario, final)
    for job in jobs.values():
        if job["state"] in FINAL_PHASES:
            continue
        if job["state"] in WAITING_STATES and job["due_at"] > now_ms - 5000:
            continue
        REPORT.violate(scenario, final, f"{job['kind']} job {job['id']} is {job['state']} "
                       f"(due {(job['due_at'] - now_ms) / 1000:.0f} s from now, cause {job['state_cause']})")
    outcome = ("every job ends as its faults and operators allow (clean sources succeed, 404s fail for good, "
               "acknowledged cancels stick, paused and resumed jobs finish)")
    REPORT.declare(scenario, outcome)
    for plan in plans:
        job = jobs.get(plan.job_id)
        if job is None or job["state"] not in FINAL_PHASES:
            continue
        good = job["state"] in ("succeeded", "stored")
        for cancelled in plan.cancelled:
            if jobs[cancelled]["state"] != "cancelled":
                REPORT.violate(scenario, outcome, f"download {cancelled}: its cancel was acknowledged, yet it "
                               f"ended {jobs[cancelled]['state']}")
        if plan.job_id in plan.cancelled:
            continue
        if plan.expect == "succeed" and not good and not (
                plan.job_id in changed_sources and job["last_error_code"] == "checksum_mismatch"):
            REPORT.violate(scenario, outcome, f"{plan.kind} {plan.job_id} ({plan.fault}) ended {job['state']}: "
                           f"{job['last_error_code']}: {job['last_error']} (attempt {job['attempt']})")
        if plan.expect == "fail" and (good or job["last_error_class"] != "permanent" or job["attempt"] > 2):
            REPORT.violate(scenario, outcome, f"{plan.kind} {plan.job_id} from a 404 ended {job['state']} "
                           f"after {job['attempt']} attempts ({job['last_error_class']} {job['last_error_code']})")
    for upload in uploads.values():
        job = jobs[upload["job_id"]]
        if upload["download_id"] in changed_sources and job["last_error_code"] == "source_missing":
            continue
        if job["state"] not in ("succeeded", "cleaned") and job["state"] in FINAL_PHASES:
            REPORT.violate(scenario, outcome, f"upload {job['id']} of download {upload['download_id']} to "
                           f"{upload['target']} ended {job['state']}: {job['last_error_code']}: {job['last_error']}")

    # 3. The hung worker's jobs went back to the queue.
    hung = "a SIGSTOPped worker is declared hung, killed and replaced, its jobs requeued"
    # (A job may have finished just as the worker was stopped: its outcome was already on the way.)
    for worker, (stopped_ms, held) in hung_jobs.items():
        for job_id in held:
            own = [(cause, at) for cause, owner, at in events.get(job_id, []) if owner == worker and cause != "claim"]
            if not any(cause == "requeue" for cause, _ in own) and any(at > stopped_ms + 1000 for _, at in own):
                REPORT.violate(scenario, hung, f"job {job_id} held by the stopped worker {worker} has no requeue "
                               f"event from it, but {own} after it was stopped at {stopped_ms}")

    # 4. Local files: every record's file exists and matches; nothing else at a final path.
    files = "every record's file exists and matches; no partial or unknown file at a final path"
    REPORT.declare(scenario, files)
    recorded = set()
    uploads_of = {}
    for upload in uploads.values():
        uploads_of.setdefault(upload["download_id"], []).append(jobs[upload["job_id"]])
    plan_of = {p.job_id: p for p in plans if p.job_id}
    acceptable = {}
    for plan in plans:
        if plan.job_id is None or plan.fault == "404":
            continue
        if plan.seeds_vary:
            served = len(origin.requests(plan.key))
            acceptable[plan.job_id] = {origin_sha256(plan.size, seed) for seed in range(max(served, 1))}
        else:
            acceptable[plan.job_id] = {origin_sha256(plan.size)}
    delivered_and_removed = set()
    for job in jobs.values():
        if job["kind"] == "upload" or job["state"] not in ("succeeded", "stored"):
            continue
        location = job["result_location"]
        recorded.add(location)
        if job["result_sha256"] not in acceptable.get(job["id"], set()):
            REPORT.violate(scenario, files, f"{job['kind']} {job['id']}: recorded SHA-256 {job['result_sha256']} is "
                           f"not what the origin served ({plan_of.get(job['id']) and plan_of[job['id']].fault})")
        download = downloads.get(job["id"])
        ups = uploads_of.get(job["id"], [])
        removed = download is not None and download["delete_after_upload"] == 1 and ups \
            and all(u["state"] == "cleaned" for u in ups)
        stranded = "node" in job.keys() and job["node"] in lost_nodes
        if download is not None and download["delete_after_upload"] == 1 and ups \
                and all(u["state"] in ("succeeded", "cleaned") for u in ups) and not removed and not stranded:
            REPORT.violate(scenario, files, f"download {job['id']}: every upload succeeded but they are not all "
                           f"cleaned: {[u['state'] for u in ups]}")
        if removed:
            delivered_and_removed.add(job["id"])
            if os.path.exists(location):
                REPORT.violate(scenario, files, f"download {job['id']}: delivered with delete_after_upload and its "
                               f"uploads cleaned, but {location} is still there")
            continue
        if not os.path.isfile(location):
            REPORT.violate(scenario, files, f"{job['kind']} {job['id']}: {location} is missing")
            continue
        size, sha = os.path.getsize(location), file_sha256(location)
        if size != job["result_size"] or sha != job["result_sha256"]:
            REPORT.violate(scenario, files, f"{job['kind']} {job['id']}: {location} is {size} bytes {sha[:12]}…, "
                           f"the record says {job['result_size']} {job['result_sha256'][:12]}…")
    left = []
    for folder_name in ("downloads", "videos"):
        for root, _, names in (walked for state in states for walked in os.walk(state / folder_name)):
            for name in names:
                path = os.path.join(root, name)
                if path in recorded:
                    continue
                if leftover and leftover(path):
                    left.append(path)
                    continue
                REPORT.violate(scenario, files, f"{path} ({os.path.getsize(path)} bytes) is at a final path "
                               f"with no finished record pointing at it")
    quarantined = [os.path.join(r, n) for state in states for r, _, ns in os.walk(state / "quarantine") for n in ns]
    left += [path for path in quarantined if leftover and leftover(path)]
    quarantined = [path for path in quarantined if path not in left]
    if quarantined:
        REPORT.violate(scenario, files, f"cleanup quarantined {len(quarantined)} file(s), i.e. found files no record "
                       f"knew: {quarantined[:5]}")
    spool = [n for state in states if (state / "spool").exists() for n in os.listdir(state / "spool")]
    REPORT.detail(scenario, files, f"{len(recorded)} files checked by SHA-256, {len(delivered_and_removed)} "
                  f"delivered and removed, {len(spool)} partial file(s) left in the spool"
                  + (f", {len(left)} whole copies left by work taken over from a node" if left else ""))

    # 5. Targets: each expected object exactly once, byte-identical to the source; nothing else.
    targets = "every target holds each expected object exactly once, byte-identical (SHA-256) to the source"
    REPORT.declare(scenario, targets)
    expected = {}  # (target, download id) -> (name, sha)
    for upload in uploads.values():
        job, download = jobs[upload["job_id"]], jobs[upload["download_id"]]
        if job["state"] in ("succeeded", "cleaned") and download["result_location"] is None:
            # (A cluster can do this: a download fetched again after its node died, failing this time.)
            if download["id"] in changed_sources:
                REPORT.detail(scenario, targets, f"upload {job['id']} delivered download {download['id']} to "
                              f"{upload['target']} before its node died; the refetch met a changed source")
                continue
            REPORT.violate(scenario, targets, f"upload {job['id']} to {upload['target']} is {job['state']}, but its "
                           f"download {download['id']} is {download['state']} with no result")
        elif job["state"] in ("succeeded", "cleaned"):
            expected[(upload["target"], upload["download_id"])] = (
                os.path.basename(download["result_location"]), download["result_sha256"])
    for job_id, download in downloads.items():
        job = jobs[job_id]
        wanted = sorted(json.loads(download["upload_targets"]))
        have = sorted(u["target"] for u in uploads.values() if u["download_id"] == job_id)
        if job["state"] == "succeeded" and wanted != have:
            REPORT.violate(scenario, targets, f"download {job_id} succeeded with targets {wanted} but has uploads {have}")
        if job["state"] != "succeeded" and have and job_id not in changed_sources:
            REPORT.violate(scenario, targets, f"download {job_id} is {job['state']} but has uploads {have}")
    found = {}
    litter = []
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            relative = path.relative_to(folder)
            if name.startswith("."):
                litter.append(str(relative))
                continue
            if len(relative.parts) != 2 or not relative.parts[0].isdigit():
                REPORT.violate(scenario, targets, f"folder target: unexpected file {relative}")
                continue
            found.setdefault(("folder", int(relative.parts[0])), []).append((name, file_sha256(path)))
    objects, unfinished = moto.objects()
    for key, (size, sha, meta) in objects.items():
        parts = key.split("/", 1)
        if len(parts) != 2 or not parts[0].isdigit():
            REPORT.violate(scenario, targets, f"bucket: unexpected object {key}")
            continue
        if meta is not None and meta != sha:
            REPORT.violate(scenario, targets, f"bucket: {key} has x-amz-meta-sha256 {meta} but its body hashes to {sha}")
        found.setdefault(("bucket", int(parts[0])), []).append((parts[1], sha))
    for place, copies in found.items():
        want = expected.get(place)
        if want is None and place[1] in changed_sources and all(
                sha in acceptable.get(place[1], set()) for _, sha in copies):
            REPORT.detail(scenario, targets, f"{place[0]} keeps what the dead node delivered of download {place[1]}, "
                          f"whose refetch met a changed source")
            continue
        if want is None:
            REPORT.violate(scenario, targets, f"{place[0]} holds {copies} for download {place[1]}, "
                           f"which has no delivered upload there")
        elif copies != [want]:
            REPORT.violate(scenario, targets, f"{place[0]}, download {place[1]}: holds {copies}, expected {[want]}")
        elif want[1] not in acceptable.get(place[1], set()):
            REPORT.violate(scenario, targets, f"{place[0]}, download {place[1]}: content is not what the origin served")
    for place in expected:
        if place not in found:
            REPORT.violate(scenario, targets, f"{place[0]} lacks the object of download {place[1]} "
                           f"although its upload succeeded")
    if litter:
        REPORT.violate(scenario, targets, f"folder target: {len(litter)} temporary file(s) left behind: {litter[:5]}")
    if unfinished:
        REPORT.violate(scenario, targets, f"bucket: {len(unfinished)} unfinished multipart upload(s) left: "
                       f"{unfinished[:5]}")
    REPORT.detail(scenario, targets, f"{sum(1 for p in expected if p[0] == 'folder')} objects in the folder, "
                  f"{sum(1 for p in expected if p[0] == 'bucket')} in the bucket")
