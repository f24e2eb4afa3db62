"""Scenario cluster-telegram: two Telegram bots relayed by three `ferry serve` nodes on one
PostgreSQL, through the cluster scenario's damage (a node SIGKILLed whole, a supervisor frozen
past its lease, PostgreSQL restarted).

Every node has both bots (each on a fake Bot API of its own): the nodes elect one poller per bot,
and the turns of Telegram's flood control are kept in the database for all of them. `inbox`
saves what its chats send to a folder; `relay` sends each file on to a Telegram chat as a
document and deletes it afterwards. The telegram scenario's messages (documents, videos, audio,
photos, animations, links; repeats, strangers, texts without a link) arrive during the run
whichever node polls, and the relay's chat answers a 429 four times. The telegram scenario's
checks then judge the whole cluster: every message exactly one download with its bytes, every
update acknowledged, every relayed file in its chat once (a second copy only after an attempt in
doubt), nothing left queued, sends to a chat spaced and holds kept across nodes (not judged
while the database was down and a few seconds after: each node then paces its own), and
getUpdates conflicts (two nodes polling one bot) only while a node is dead or frozen and not yet
replaced.
"""
import random
import threading
import time

from ...daemon import check_alive, check_graceful_stop, free_port
from ...database import READ_ERRORS, query
from ...invariants import check_database
from ...origin import Moto, Origin
from ...postgres import Postgres
from ...report import REPORT, log
from ..telegram import settle
from ..telegram.botapi import FakeBotAPI
from ..telegram.checks import check_flood_control, check_folder, check_send_markers, check_telegram_results
from ..telegram.messages import Bot, make_messages, relay_config
from .disruptions import Disruptions
from .nodes import Node, lost_incarnations, open_cluster, start_nodes, stop_cluster

SCENARIO = "cluster-telegram"
LEASE = 6
NAMES = ("tg-node-a", "tg-node-b", "tg-node-c")
# After the database is back, a node's pacer tries it again within 1, 2, then 4 s of its failures
# (TelegramSendPacer.sharedRetryPause); a send that long after the outage may still be paced by its file.
PACED_ALONE_AFTER_OUTAGE = 8.0
CONFLICTS = ("two nodes poll one bot (a getUpdates conflict) only while a node is dead or frozen and not yet "
             "replaced")


def bots():
    return [Bot("inbox", [101, 102], ["folder"]),
            Bot("relay", [201], ["tg-relay"], "tg-relay", "document", 901, delete=True)]


def run(args, binary, scratch, lifecycles):
    rng = random.Random(args.seed)
    origin = Origin(scratch)
    moto = Moto(scratch)
    postgres = Postgres(scratch, free_port())
    relayed = bots()
    for number, bot in enumerate(relayed):
        bot.api = FakeBotAPI(scratch, f"cluster-{bot.name}", 7_100_000 + number)
    nodes = []
    try:
        url, store, folder, secret, moto_port = open_cluster(scratch, postgres, moto, "ferry_tg", "cluster-telegram")
        extra = relay_config(relayed)
        nodes = [Node(binary, scratch, name, moto_port, url, LEASE, secret, folder, args.cleanup_runs, extra=extra)
                 for name in NAMES]
        if start_nodes(SCENARIO, binary, nodes, store):
            drive(args, rng, origin, postgres, store, nodes, relayed, folder, lifecycles)
    finally:
        stop_cluster(SCENARIO, nodes, postgres, "ferry_tg", ("nodes", "workers", "jobs", "job_events", "downloads",
                                                             "uploads", "telegram_sources", "telegram_bots",
                                                             "telegram_pollers"))


def drive(args, rng, origin, postgres, store, nodes, relayed, folder, lifecycles):
    duration = max(60.0, args.duration * 2 / 3)
    count = max(150, int(duration * 2.5))
    # Half to the relay, whose sends to its chat go about one a second: files wait there for their uploads.
    messages = make_messages(rng, count, relayed, origin, f"ct{args.seed}", inbox_share=0.5)
    log(f"{SCENARIO}: {count} messages over {duration * 0.8:.0f} s to bots "
        f"{', '.join(f'{b.name} :{b.api.port}' for b in relayed)}, relayed by {', '.join(n.name for n in nodes)} "
        f"on PostgreSQL :{postgres.port}, lease {LEASE} s")
    started = time.monotonic()
    disruptions = PollerDisruptions(SCENARIO, nodes, postgres, store, duration, LEASE)
    disruptions.start()
    # 429s at the relay's chat, whose holds every node must keep (and which back its uploads up).
    floods = threading.Thread(target=flood, args=(relayed[1].api, started, duration), daemon=True)
    floods.start()
    spacing = duration * 0.8 / len(messages)
    for number, message in enumerate(messages):
        time.sleep(max(0.0, started + number * spacing - time.monotonic()))
        message.update_id = message.bot.api.receive(message.body)
    disruptions.join()
    floods.join()
    done = [name for name, value in (("node SIGKILL", disruptions.kill), ("SIGSTOP past the lease", disruptions.fence),
                                     ("PostgreSQL restart", disruptions.outage)) if value]
    REPORT.check(SCENARIO, "the chaos driver ran to the end", len(done) == 3, f"only {done} happened", ", ".join(done))
    log(f"{SCENARIO}: messages and damage done after {time.monotonic() - started:.0f} s")
    live = [n for n in nodes if not n.down]
    for node in live:
        check_alive(SCENARIO, node.ferry)
    lost = lost_incarnations(nodes)
    settled = settle(live[0].ferry, store, relayed, args.settle_timeout, lost)
    log(f"{SCENARIO}: {'settled' if settled else 'NOT settled'} after {time.monotonic() - started:.0f} s")
    REPORT.check(SCENARIO, "the run settles: every update acknowledged, every job final", settled,
                 f"still busy {args.settle_timeout} s after the damage ended")
    pollers = {r["bot"]: r["node"] for r in query(store, "SELECT bot, node FROM telegram_pollers")}
    log(f"{SCENARIO}: pollers at the end: {pollers}")
    for node in live:
        check_alive(SCENARIO, node.ferry)
        check_graceful_stop(SCENARIO, node.ferry)

    states = {bot.name: bot.api.state() for bot in relayed}
    # The node SIGKILLed for good took its files with it: what it delivered but had not yet removed stays.
    jobs, uploads = check_telegram_results(SCENARIO, messages, relayed, store, states, lost_nodes=lost)
    check_folder(SCENARIO, jobs, uploads, folder)
    # A node SIGKILLed for good may leave the mark of a send it was making; it never starts again to settle it.
    for node in live:
        check_send_markers(SCENARIO, node.state)
    outage = disruptions.outage
    excused = [(outage[0] / 1000 - 1, outage[1] / 1000 + PACED_ALONE_AFTER_OUTAGE)] if outage else []
    # The node SIGKILLed whole and the one frozen past its lease may each have had a 429's answer.
    stopped = [(disruptions.kill[1] / 1000,) * 2] if disruptions.kill else []
    if disruptions.fence:  # frozen, then fenced: its workers end with it
        _, _, frozen, resumed, took, *_ = disruptions.fence
        stopped.append((frozen / 1000, resumed / 1000 + (took if took is not None else 60)))
    check_flood_control(SCENARIO, relayed, states, excused, stopped)
    check_conflicts(states, disruptions)
    check_database(SCENARIO, store, lifecycles)
    causes = query(store, "SELECT cause, count(*) AS n FROM job_events GROUP BY cause ORDER BY n DESC")
    log(f"{SCENARIO}: transitions by cause: " + ", ".join(f"{r['cause']} {r['n']}" for r in causes))
    calls = {bot.name: states[bot.name]["calls"] for bot in relayed}
    log(f"{SCENARIO}: Bot API calls {calls}; conflicts "
        f"{ {bot.name: states[bot.name]['conflicts'] for bot in relayed} }")


def flood(api, started, duration):
    """Four times in the run, the relay's next send is answered 429 with a 4 s retry_after."""
    for share in (0.1, 0.3, 0.5, 0.7):
        time.sleep(max(0.0, started + duration * share - time.monotonic()))
        api.fault("sendDocument", count=1, status=429, retry_after=4)


class PollerDisruptions(Disruptions):
    """The cluster scenario's damage, done to the node polling the relay bot at the time: the
    SIGKILL to the first poller, the freeze to the one that took the bot over."""

    def to_kill(self):
        return self.poller()

    def to_freeze(self):
        return self.poller()

    def poller(self):
        """The live node polling the relay bot (up to 2 leases for the election to name one after
        the last damage), else the first live node."""
        deadline = time.monotonic() + 2 * self.lease
        while time.monotonic() < deadline:
            try:
                rows = query(self.store, "SELECT node FROM telegram_pollers WHERE bot = 'relay'")
            except READ_ERRORS:
                rows = []
            found = [n for n in self.nodes if rows and not n.down and n.incarnations
                     and n.incarnations[-1] == rows[0]["node"]]
            if found:
                log(f"{SCENARIO}: {found[0].name} polls the relay bot")
                return found[0]
            time.sleep(0.2)
        fallback = next(n for n in self.nodes if not n.down)
        log(f"{SCENARIO}: no live node polls the relay bot after {2 * self.lease} s; damaging {fallback.name}")
        return fallback


def check_conflicts(states, disruptions):
    """A getUpdates conflict means two nodes polled one bot at once. The election allows it only
    while a node's poll outlives its place: a SIGKILLed node's last poll still open at the fake
    server until the next poller's arrives, and a frozen supervisor's telegram worker polling on
    until it fences itself after SIGCONT (the election has given the bot to a live node by then)."""
    REPORT.declare(SCENARIO, CONFLICTS)
    windows = []
    if disruptions.kill:
        _, killed, _, _ = disruptions.kill
        windows.append((killed / 1000, killed / 1000 + 2 * LEASE + 5))
    if disruptions.fence:
        _, _, stopped, resumed, took, _, _ = disruptions.fence
        windows.append((stopped / 1000, resumed / 1000 + (took or 60) + 5))
    total = 0
    for name, state in states.items():
        for at in state.get("conflict_times", []):
            total += 1
            if not any(start <= at <= end for start, end in windows):
                REPORT.violate(SCENARIO, CONFLICTS, f"bot {name}: a getUpdates conflict at "
                               f"{time.strftime('%H:%M:%S', time.localtime(at))} ({at:.3f}), outside the dead "
                               f"or frozen node's windows {windows}")
    REPORT.detail(SCENARIO, CONFLICTS, f"{total} conflict(s), all while a node was dead or frozen")
