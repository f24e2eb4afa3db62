"""Scenario cluster: three `ferry serve` nodes share one queue on a real PostgreSQL while a node
dies whole, another is frozen past its lease, and PostgreSQL restarts under them (issue 18's proof).

The suite starts PostgreSQL itself (`postgres.py`), migrates the database once with `ferry db
migrate`, and starts node-a, node-b and node-c (lease 6 s), each with its own state folder, admin
port and S3 recorder in front of one moto server, all delivering to one shared folder target.
The fire scenario's submissions (500+ downloads with uploads, and videos, from the fault-injecting
origin) go to whichever nodes are up, while `disruptions` does its damage. Then the run settles
and every single-node invariant is checked on the whole cluster (fire's checks over every node's
files, the database checks on PostgreSQL), with the cluster's own (`checks`): take-over in time,
the dead node's waiting files fetched again, the fence, nothing completed or written twice, files
where their jobs say (and whole copies left by taken-over work counted). The report gives the
figures: node death to the first of its jobs running elsewhere, beside the lease; SIGCONT to the
fenced exit; PostgreSQL's outage; jobs completed per node. `--tamper` writes an object a second
time through node-a's recorder, names another node in a finished download's `jobs.node` and adds
a completion by a fenced worker after its lease ran out: the run must fail.
"""
import random
import time

from ...daemon import check_alive, check_graceful_stop, free_port, wait_calm
from ...database import query
from ...invariants import check_database
from ...origin import Moto, Origin
from ...postgres import Postgres
from ...processes import in_threads
from ...report import REPORT, log
from ..fire.checks import check_fire_results
from ..fire.plans import make_plans, submit
from .checks import check_cluster, taken_over_copies, tamper
from .disruptions import Disruptions
from .nodes import NAMES, Node, lost_incarnations, open_cluster, start_nodes, stop_cluster

SCENARIO = "cluster"
LEASE = 6
SETTLED = "the cluster settles: nothing running, nothing due"


def settle(node, store, timeout):
    def busy():
        return query(store, "SELECT count(*) AS n FROM jobs WHERE state IN ('running', 'storing') "
                     "OR (state IN ('queued', 'temporary') AND due_at <= ?)", (int(time.time() * 1000) + 2500,))[0][0]

    return wait_calm(node.ferry, busy, timeout)


def run(args, binary, scratch, lifecycles):
    rng = random.Random(args.seed)
    origin = Origin(scratch)
    moto = Moto(scratch)
    postgres = Postgres(scratch, free_port())
    nodes = []
    try:
        url, store, folder, secret, moto_port = open_cluster(scratch, postgres, moto, "ferry_chaos", "cluster")
        # node-b's S3 writes take 5 s each, so downloads wait there for their uploads when it dies.
        nodes = [Node(binary, scratch, name, moto_port, url, LEASE, secret, folder, args.cleanup_runs,
                      5.0 if name == "node-b" else 0.0) for name in NAMES]
        if start_nodes(SCENARIO, binary, nodes, store):
            drive(args, rng, origin, moto, postgres, store, nodes, folder, lifecycles)
    finally:
        stop_cluster(SCENARIO, nodes, postgres, "ferry_chaos", ("nodes", "workers", "jobs", "job_events", "downloads",
                                                                "uploads"))

def drive(args, rng, origin, moto, postgres, store, nodes, folder, lifecycles):
    duration = max(args.duration, 60)
    count = args.jobs or max(520, int(duration * 2))
    plans = make_plans(rng, count, origin, f"k{args.seed}")
    log(f"cluster: {count} submissions over {duration:.0f} s to {', '.join(n.name for n in nodes)} on PostgreSQL "
        f":{postgres.port}, lease {LEASE} s; origin :{origin.port}, moto {moto.endpoint}")
    started = time.monotonic()
    disruptions = Disruptions(SCENARIO, nodes, postgres, store, duration, LEASE)
    disruptions.start()

    def pick():
        return random.choice([n for n in nodes if not n.down] or nodes).ferry

    spacing = duration * 0.8 / len(plans)  # submissions go on past the last damage
    queue = list(enumerate(plans))
    submit_deadline = time.monotonic() + duration + 300

    def submitter():
        while queue:
            try:
                index, plan = queue.pop(0)
            except IndexError:
                return
            time.sleep(max(0.0, started + index * spacing - time.monotonic()))
            submit(pick, plan, submit_deadline)

    in_threads(submitter)
    disruptions.join()
    done = [name for name, value in (("node SIGKILL", disruptions.kill), ("SIGSTOP past the lease", disruptions.fence),
                                     ("PostgreSQL restart", disruptions.outage)) if value]
    REPORT.check(SCENARIO, "the chaos driver ran to the end", len(done) == 3, f"only {done} happened",
                 ", ".join(done))
    log(f"cluster: submissions and damage done after {time.monotonic() - started:.0f} s")
    live = [n for n in nodes if not n.down]
    for node in live:
        check_alive(SCENARIO, node.ferry)
    settled = settle(live[0], store, args.settle_timeout)
    log(f"cluster: {'settled' if settled else 'NOT settled'} after {time.monotonic() - started:.0f} s")
    REPORT.check(SCENARIO, SETTLED, settled, f"still busy {args.settle_timeout} s after the damage ended")
    for node in live:
        check_alive(SCENARIO, node.ferry)
    if args.tamper:
        tamper(store, nodes, disruptions)
    figures = check_cluster(SCENARIO, store, nodes, disruptions, LEASE, live[0])
    for node in live:
        check_graceful_stop(SCENARIO, node.ferry)

    # A download fetched again after its node died is pinned to the lost file: from a source that
    # changes with every request it fails, and its waiting uploads with it (what Ferry must do).
    # (By URL: a plan whose answer was lost to a kill or the restart has no job id; both "changing"
    # faults serve other bytes on every request, whether or not the request named a SHA-256.)
    varying = {p.body["url"] for p in plans if p.kind == "download" and p.fault in ("changing", "changing-sha")}
    changed = {r["job_id"] for r in query(store, "SELECT DISTINCT e.job_id, d.url FROM job_events e "
                                              "JOIN jobs j ON j.id = e.job_id JOIN downloads d ON d.job_id = j.id "
                                              "WHERE e.cause = 'refetch' AND j.state = 'failed' "
                                              "AND j.last_error_code = 'checksum_mismatch'")
               if r["url"] in varying}
    if changed:
        log(f"cluster: {len(changed)} refetched downloads met a changed source and failed, as pinned: {sorted(changed)}")
    # The node SIGKILLed for good took its files with it: a download it had delivered whose clean-up
    # it had not yet made stays delivered (the clean-up runs where the file is; none will).
    lost = lost_incarnations(nodes)
    check_fire_results(SCENARIO, plans, store, [n.state for n in nodes], folder, moto, origin, {},
                       taken_over_copies(store, nodes), changed_sources=frozenset(changed), lost_nodes=lost)
    check_database(SCENARIO, store, lifecycles)
    report_figures(store, disruptions, figures)


def report_figures(store, disruptions, figures):
    states = query(store, "SELECT kind, state, count(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state")
    log("cluster: jobs by kind and state: " + ", ".join(f"{r['kind']} {r['state']} {r['n']}" for r in states))
    causes = query(store, "SELECT cause, count(*) AS n FROM job_events GROUP BY cause ORDER BY n DESC")
    log("cluster: transitions by cause: " + ", ".join(f"{r['cause']} {r['n']}" for r in causes))
    lines = [f"lease {LEASE} s (renewed every {LEASE / 3:.0f} s)"]
    if "kill" in figures:
        requeue, running, held = figures["kill"]
        lines.append(f"node death → requeue {fmt(requeue)}, → first of its {held} job(s) running elsewhere "
                     f"{fmt(running)}")
    if "stop" in figures:
        requeue, running, held = figures["stop"]
        lines.append(f"SIGSTOP → requeue {fmt(requeue)}, → first of its {held} job(s) running elsewhere {fmt(running)}")
    if disruptions.fence and disruptions.fence[4] is not None:
        lines.append(f"SIGCONT → fenced exit {disruptions.fence[4]:.2f} s (status {disruptions.fence[5]})")
    if disruptions.outage:
        lines.append(f"PostgreSQL down {(disruptions.outage[1] - disruptions.outage[0]) / 1000:.1f} s")
    lines.append("completions per node: " + ", ".join(f"{k} {v}" for k, v in figures.get("per node", {}).items()))
    for line in lines:
        log(f"cluster: figure: {line}")
    REPORT.detail(SCENARIO, SETTLED, "; ".join(lines))


def fmt(milliseconds):
    return "never" if milliseconds is None else f"{milliseconds / 1000:.2f} s"
