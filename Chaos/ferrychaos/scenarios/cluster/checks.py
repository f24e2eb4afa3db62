"""The cluster scenario's own invariants and figures, beyond the single-node ones (fire's checks and
the database checks, which run on the whole cluster's store and every node's files).

Read from the shared PostgreSQL store (the same tables as SQLite, plus `nodes`, `workers.node` and
`jobs.node`), the S3 recorders' write logs and the nodes' APIs.
"""
import os
import time

from ...database import literal, query
from ...invariants import file_sha256
from ...origin import BUCKET
from ...report import REPORT, log

TAKEOVER = "a dead node's jobs are put back within one lease plus a renewal interval (+1 s for a busy machine)"
REFETCH = "a dead node's downloads whose uploads still waited are fetched again by the others"
LATE = "no report of a fenced node's workers is applied after its lease ran out"
TWICE = "no job completed twice (a download once per fetch)"
WRITES = "no upload object written twice (the S3 recorders' PUTs and completed multipart uploads, per key)"
AFFINITY = "each finished file lives on the node its job names (jobs.node)"
API = "/api/cluster and /api/health/system describe the cluster"
SPOOL = "partial files left in the nodes' spools (counted: each node's cleanup run removes its settled ones)"


def tamper(store, nodes, disruptions):
    """The checks' own check (--tamper): an object written a second time through node-a's recorder,
    a finished download said to live on another node, and a late completion by a fenced worker."""
    import boto3  # noqa: PLC0415 — as origin.Moto: only the scenarios with S3 need it

    log("cluster: TAMPERING on purpose: every check below should find what was done")
    writer = nodes[0].recorder
    key = next(key for _, _, key in writer.writes)
    client = boto3.client("s3", endpoint_url=writer.endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.put_object(Bucket=BUCKET, Key=key, Body=client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    moved = query(store, "SELECT id FROM jobs WHERE kind = 'download' AND state = 'succeeded' AND node = ? LIMIT 1",
                  (nodes[0].incarnations[-1],))[0]["id"]
    store.server.psql(store.name, f"UPDATE jobs SET node = {literal(nodes[2].incarnations[-1])} WHERE id = {moved}",
                      read_only=False)
    _, incarnation, _, _, _, _, _ = disruptions.fence
    worker = query(store, "SELECT id FROM workers WHERE node = ? LIMIT 1", (incarnation,))[0]["id"]
    late = query(store, "SELECT id, attempt FROM jobs WHERE state = 'succeeded' LIMIT 1")[0]
    store.server.psql(store.name, "INSERT INTO job_events (job_id, at, from_state, to_state, cause, owner, attempt) "
                      f"VALUES ({late['id']}, {int(time.time() * 1000)}, 'running', 'succeeded', 'complete', "
                      f"{literal(worker)}, {late['attempt']})", read_only=False)
    log(f"cluster: tampered: {key} written again through {nodes[0].name}'s recorder, download {moved} moved to "
        f"{nodes[2].name} in jobs.node, a completion of job {late['id']} by {worker} of the fenced {incarnation}")


def taken_over_copies(store, nodes):
    """Whether an unrecorded file at a final path is the whole result of work taken from its node:
    a job its worker finished while the node was dead or frozen, whose report was then refused and
    which ran again elsewhere (or a download fetched again because its node died). They are
    counted, not failed, where they are or where that node's cleanup run quarantined them (under
    `quarantine/`, same relative path: a record elsewhere holds the result); a partial file, or one
    of a job never taken from that node, is still a violation."""
    taken = {}  # (job id, node name) -> "requeue" (its attempt there was cut off) or "refetch" (its result was there)
    for row in query(store, "SELECT e.job_id, e.cause, e.owner, e.reason FROM job_events e "
                     "WHERE (e.cause = 'requeue' AND e.reason LIKE '%lease%') OR e.cause = 'refetch'"):
        if row["cause"] == "requeue" and row["owner"] and "@" in row["owner"]:
            taken.setdefault((row["job_id"], row["owner"].rsplit("@", 1)[1]), "requeue")
        elif row["cause"] == "refetch":
            taken.update({(row["job_id"], n.name): "refetch" for n in nodes if f"node {n.name}." in (row["reason"] or "")})
    sizes = {r["id"]: r["result_size"] for r in query(store, "SELECT id, result_size FROM jobs WHERE kind = 'download'")}
    videos = {}
    for row in query(store, "SELECT id, result_sha256 FROM jobs WHERE kind = 'video' AND result_sha256 IS NOT NULL"):
        videos.setdefault(row["result_sha256"], []).append(row["id"])
    homes = {str(n.state) + os.sep: n.name for n in nodes}

    def copy(path):
        home = next((h for h in homes if path.startswith(h)), None)
        parts = path[len(home):].split(os.sep) if home else []
        if parts[:1] == ["quarantine"]:
            parts = parts[1:]
        if len(parts) == 3 and parts[0] == "downloads" and parts[1].isdigit():
            # A refetched download's copy was its recorded result (whole) until the refetch cleared the record.
            # A requeued one's is its cut-off attempt's result: the size of the result recorded elsewhere,
            # or, when the job ended without one (a changing source failed the next attempts), any size.
            how, size = taken.get((int(parts[1]), homes[home])), sizes.get(int(parts[1]))
            return how == "refetch" or (how == "requeue" and (size is None or os.path.getsize(path) == size))
        if len(parts) == 4 and parts[0] == "videos":
            return file_sha256(path) == parts[3] and any((job, homes[home]) in taken for job in videos.get(parts[3], []))
        return False

    return copy


def owners_by_node(store):
    """{worker id: node id} for every worker the cluster ever ran."""
    return {r["id"]: r["node"] for r in query(store, "SELECT id, node FROM workers")}


def events_by_job(store):
    found = {}
    for row in query(store, "SELECT id, job_id, at, cause, owner, reason FROM job_events ORDER BY id"):
        found.setdefault(row["job_id"], []).append(row)
    return found


def takeover_times(events, workers, incarnation, since_ms):
    """(ms to the first event of a held job after `since_ms` by someone else — its requeue —, ms to
    its first claim by a worker of another node, number of jobs held), for the jobs the node's
    workers held at `since_ms` (their last claim before it was theirs and nothing followed)."""
    held = []
    for job_id, rows in events.items():
        before = [r for r in rows if r["at"] <= since_ms]
        if before and before[-1]["cause"] == "claim" and workers.get(before[-1]["owner"]) == incarnation:
            held.append(job_id)
    requeued, running = [], []
    for job_id in held:
        after = [r for r in events[job_id] if r["at"] > since_ms]
        if after:
            requeued.append(after[0]["at"] - since_ms)
        claims = [r["at"] for r in after if r["cause"] == "claim" and workers.get(r["owner"]) not in (incarnation, None)]
        if claims:
            running.append(claims[0] - since_ms)
    return (min(requeued) if requeued else None), (min(running) if running else None), len(held)


def check_cluster(scenario, store, nodes, disruptions, lease, api_node):
    """The cluster's invariants; returns the figures measured (a dict)."""
    workers = owners_by_node(store)
    events = events_by_job(store)
    figures = {}

    # A dead node's jobs are taken over in time.
    REPORT.declare(scenario, TAKEOVER)
    bound = (lease + lease / 3 + 1) * 1000
    if disruptions.kill:
        node, killed_at, held, waiting = disruptions.kill
        # The refetch names the dead incarnation ("its file was on node <id>, which is gone").
        refetched = {r["job_id"] for r in query(store, "SELECT job_id FROM job_events WHERE cause = 'refetch' "
                                                "AND strpos(reason, ?) > 0", (f"node {node.incarnations[-1]},",))}
        missed = [job for job in waiting if job not in refetched]
        if waiting:
            REPORT.check(scenario, REFETCH, not missed, f"{node.name} died with {len(waiting)} file(s) whose uploads "
                         f"waited; not fetched again: {missed}", f"{node.name} died with {len(waiting)} such file(s) "
                         f"(read just before its SIGKILL); {len(refetched)} of its downloads fetched again")
        else:
            REPORT.skip(scenario, REFETCH, f"{node.name} held no file whose uploads waited in the 30 s it was given")
        requeue, running, count = takeover_times(events, workers, node.incarnations[-1], killed_at)
        figures["kill"] = (requeue, running, count)
        # The bound is on the requeue: when a requeued job then runs depends on the queue ahead of it.
        REPORT.check(scenario, TAKEOVER, count > 0 and requeue is not None and requeue <= bound,
                     f"{node.name} held {count} job(s) at its SIGKILL (the store said {len(held)} just before); "
                     f"the first was put back {requeue} ms later, bound {bound:.0f} ms")
    if disruptions.fence:
        node, incarnation, stopped, _, _, _, _ = disruptions.fence
        requeue, running, count = figures["stop"] = takeover_times(events, workers, incarnation, stopped)
        # Frozen, it is dead to the others: the same bound, from the SIGSTOP.
        REPORT.check(scenario, TAKEOVER, count == 0 or (requeue is not None and requeue <= bound),
                     f"{node.name} held {count} job(s) at its SIGSTOP; the first was put back {requeue} ms later, "
                     f"bound {bound:.0f} ms")

        # The fenced incarnation's lease ran out at lease_expires_at: nothing of its workers counts after that.
        expiry = query(store, "SELECT (extract(epoch FROM lease_expires_at) * 1000)::bigint AS ms FROM nodes "
                       "WHERE id = ?", (incarnation,))
        REPORT.declare(scenario, LATE)
        if not expiry:
            REPORT.violate(scenario, LATE, f"the nodes table has no row for {incarnation}")
        else:
            ends = expiry[0]["ms"]
            late = [r for rows in events.values() for r in rows
                    if workers.get(r["owner"]) == incarnation and r["at"] > ends and r["cause"] != "requeue"
                    and "lease" not in (r["reason"] or "")]
            REPORT.check(scenario, LATE, not late, f"{len(late)} event(s) of {incarnation}'s workers after its lease "
                         f"ran out at {ends}: {[(r['job_id'], r['cause'], r['at']) for r in late[:10]]}",
                         f"lease of {incarnation} ran out {(ends - stopped) / 1000:.1f} s after its SIGSTOP")

    # Nothing completed twice.
    REPORT.declare(scenario, TWICE)
    for job_id, rows in events.items():
        completes = sum(r["cause"] == "complete" for r in rows)
        if completes > 1 + sum(r["cause"] == "refetch" for r in rows):
            REPORT.violate(scenario, TWICE, f"job {job_id}: {completes} completions "
                           f"{[(r['owner'], r['at']) for r in rows if r['cause'] == 'complete']}")

    # Each object written once, whichever node wrote it.
    writes = {}
    for node in nodes:
        for at, kind, key in node.recorder.writes:
            writes.setdefault(key, []).append((node.name, kind, round(at, 3)))
    twice = {key: found for key, found in writes.items() if len(found) > 1}
    refused = [(node.name, kind, key) for node in nodes for _, kind, key in node.recorder.refused]
    REPORT.check(scenario, WRITES, not twice, f"{len(twice)} key(s) written more than once: "
                 f"{sorted(twice.items())[:10]}", f"{len(writes)} objects, "
                 + ", ".join(f"{n.name} wrote {len(n.recorder.writes)}" for n in nodes)
                 + f"; {len(refused)} write(s) refused as the object had changed since the writer looked "
                 f"{refused[:5]}")

    # Files live where their jobs say.
    REPORT.declare(scenario, AFFINITY)
    names = {r["id"]: r["name"] for r in query(store, "SELECT id, name FROM nodes")}
    homes = {str(node.state) + os.sep: node.name for node in nodes}
    for row in query(store, "SELECT id, kind, node, result_location FROM jobs WHERE state IN ('succeeded', 'stored') "
                     "AND kind <> 'upload' AND result_location IS NOT NULL"):
        home = next((name for prefix, name in homes.items() if row["result_location"].startswith(prefix)), None)
        if names.get(row["node"]) != home:
            REPORT.violate(scenario, AFFINITY, f"{row['kind']} {row['id']}: its file {row['result_location']} is on "
                           f"{home}, the job names node {row['node']}")

    # Partial files: an attempt that failed leaves its partial for the next to resume; when that one
    # runs on another node, the partial stays behind. Counted, not judged: a single node leaves a few too.
    left = {}
    for node in nodes:
        spool = node.state / "spool"
        for name in os.listdir(spool) if spool.exists() else []:
            job = int(name.split("-")[1]) if name.startswith("job-") and name.split("-")[1].isdigit() else None
            claims = [r["owner"] for r in events.get(job, []) if r["cause"] == "claim" and r["owner"]]
            elsewhere = bool(claims) and claims[-1].rsplit("@", 1)[-1] != node.name
            counts = left.setdefault(node.name, [0, 0])
            counts[0 if elsewhere else 1] += 1
    REPORT.detail(scenario, SPOOL, "; ".join(f"{name}: {a} of jobs whose last attempt ran on another node, {b} other"
                                            for name, (a, b) in sorted(left.items())))

    figures["per node"] = {r["name"]: r["n"] for r in query(
        store, "SELECT n.name, count(*) AS n FROM job_events e JOIN workers w ON w.id = e.owner "
        "JOIN nodes n ON n.id = w.node WHERE e.cause = 'complete' GROUP BY n.name ORDER BY n.name")}
    check_api(scenario, api_node, nodes, disruptions)
    return figures


def check_api(scenario, node, nodes, disruptions):
    REPORT.declare(scenario, API)
    try:
        status, cluster, _ = node.ferry.api.call("GET", "/api/cluster")
        health_status, health, _ = node.ferry.api.call("GET", "/api/health/system")
    except OSError as error:
        REPORT.violate(scenario, API, f"{node.name}'s API is gone: {error}")
        return
    if status != 200 or not isinstance(cluster, dict):
        REPORT.violate(scenario, API, f"GET /api/cluster answered {status}: {cluster}")
        return
    listed = {n["id"]: n for n in cluster.get("nodes", [])}
    for each in nodes:
        for index, incarnation in enumerate(each.incarnations):
            live = not each.down and index == len(each.incarnations) - 1
            entry = listed.get(incarnation)
            if entry is None or entry.get("live") != live:
                REPORT.violate(scenario, API, f"/api/cluster: {incarnation} should be "
                               f"{'live' if live else 'dead'}: {entry}")
    if cluster.get("this_node") != node.incarnations[-1]:
        REPORT.violate(scenario, API, f"/api/cluster: this_node {cluster.get('this_node')}, "
                       f"expected {node.incarnations[-1]}")
    text = str(health)
    for check in ("cluster:nodes", "database:reachable"):
        if check not in text:
            REPORT.violate(scenario, API, f"/api/health/system ({health_status}) has no check {check}: {text[:300]}")
    log("cluster: /api/cluster says " + "; ".join(
        f"{n['id']} live={n.get('live')} {n.get('stop_reason')}" for n in cluster.get("nodes", [])))
