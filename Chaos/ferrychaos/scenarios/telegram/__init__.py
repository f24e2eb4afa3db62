"""Scenario telegram: Ferry as a Telegram relay while its processes die and the Bot API misbehaves.

Four bots, each on a fake Bot API of its own, receive a few hundred messages (documents, videos,
audio, photos, animations, links, hidden links; repeats, strangers and texts without a link),
while the monkey SIGKILLs the telegram, download and upload workers and the supervisor, and the
fake servers answer 429s and 5xx and cut connections, file bodies and send answers. Three bots
relay what they get to a Telegram chat (as document, video, audio), one also to a folder. Then the
run settles and the checks judge: every message exactly one download with its bytes, every update
acknowledged, every upload in its chat once and byte-identical (a second copy only after an
attempt in doubt), nothing left queued, and flood control held across processes.

`messages` makes the bots and their messages, `monkey` does the damage, `checks` judges.
"""
import os
import random
import sqlite3
import time

from ...daemon import Ferry, base_config, check_alive, check_graceful_stop, free_port, wait_calm
from ...database import query
from ...invariants import check_database
from ...origin import Origin
from ...report import REPORT, log
from .botapi import FakeBotAPI
from .checks import check_flood_control, check_folder, check_send_markers, check_telegram_results
from .messages import make_bots, make_messages, relay_config
from .monkey import Monkey


def configuration(state, port, folder, bots):
    text = f"""workers:
  download:
    processes: 2
    concurrency: 6
  upload:
    processes: 2
    concurrency: 4
  store:
    processes: 0
# Scheduled runs remove what a supervisor killed between a clean-up's record and its unlink left.
cleanup:
  run_interval: 5s
  settle_time: 10s
targets:
  folder:
    type: dir
    path: {folder}
"""
    text += relay_config(bots)
    return base_config(state, port, text)


def settle(ferry, database, bots, timeout, lost_nodes=frozenset()):
    """Waits until every update is acknowledged and every job is final, three looks in a row
    (`database`: a SQLite file's path or a `PostgresStore`; `lost_nodes`: node ids gone for good,
    whose delivered files nobody can remove)."""
    def busy():
        states = [bot.api.state() for bot in bots]
        if any(s["confirmed_offset"] != s["next_update"] or s["pending"] for s in states):
            return True
        unfinished = query(database, "SELECT count(*) FROM jobs WHERE state NOT IN "
                           "('succeeded', 'cleaned', 'failed', 'cancelled')")[0][0]
        # A delivered upload of a download to delete afterwards waits to be marked cleaned.
        # (jobs.node is PostgreSQL's alone; only a cluster has lost nodes.)
        node = "dj.node" if lost_nodes else "NULL"
        uncleaned = sum(1 for row in query(database, f"""SELECT {node} FROM uploads u JOIN jobs j ON j.id = u.job_id
            JOIN downloads d ON d.job_id = u.download_id JOIN jobs dj ON dj.id = u.download_id
            WHERE d.delete_after_upload AND j.state = 'succeeded'""") if row[0] not in lost_nodes)
        # A file its records say was delivered and removed waits for a cleanup run.
        leftovers = sum(1 for row in query(database, """SELECT j.result_location FROM jobs j
            WHERE j.kind = 'download' AND EXISTS (SELECT 1 FROM uploads u JOIN jobs uj ON uj.id = u.job_id
                                                  WHERE u.download_id = j.id AND uj.state = 'cleaned')""")
                        if row[0] and os.path.exists(row[0]))
        return unfinished or uncleaned or leftovers

    return wait_calm(ferry, busy, timeout)


def run(args, binary, scratch, lifecycles):
    scenario = "telegram"
    rng = random.Random(args.seed)
    # The short run's chaos lasts 30 s (the suite's default --duration is 90); a soak's, a third of it.
    duration = max(20.0, args.duration / 3)
    count = max(300, int(duration * 2))
    origin = Origin(scratch)
    bots = make_bots()
    for number, bot in enumerate(bots):
        bot.api = FakeBotAPI(scratch, bot.name, 7_000_000 + number)
    state = scratch / "telegram-state"
    folder = scratch / "telegram-folder"
    folder.mkdir()
    port = free_port()
    ferry = Ferry(binary, scratch, configuration(state, port, folder, bots), name="telegram")
    database = state / "ferry.sqlite"
    started = time.monotonic()
    ferry.start()
    messages = make_messages(rng, count, bots, origin, f"t{args.seed}")
    log(f"telegram: {count} messages to {len(bots)} bots over {duration:.0f} s; ferry on :{port}; "
        f"fake Bot APIs on {', '.join(f'{b.name} :{b.api.port}' for b in bots)}")
    monkey = Monkey(ferry, scenario, duration, rng, bots)
    monkey.start()

    # The chats speak during the first 60 % of the chaos, whether Ferry is up or not.
    spacing = duration * 0.6 / len(messages)
    sending = time.monotonic()
    for number, message in enumerate(messages):
        wait = sending + number * spacing - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        message.update_id = message.bot.api.receive(message.body)
    monkey.join()
    log(f"telegram: chaos over after {time.monotonic() - started:.0f} s: {monkey.counts}")
    check_alive(scenario, ferry)

    settled = settle(ferry, database, bots, args.settle_timeout)
    log(f"telegram: {'settled' if settled else 'NOT settled'} after {time.monotonic() - started:.0f} s")
    REPORT.check(scenario, "the run settles: every update acknowledged, every job final", settled,
                 f"still busy {args.settle_timeout} s after the chaos ended")
    check_alive(scenario, ferry)
    check_graceful_stop(scenario, ferry)

    if args.tamper:
        tamper(bots, messages, database)
    states = {bot.name: bot.api.state() for bot in bots}
    jobs, uploads = check_telegram_results(scenario, messages, bots, database, states)
    check_folder(scenario, jobs, uploads, folder)
    check_send_markers(scenario, state)
    check_flood_control(scenario, bots, states, stopped=[(t, t) for t in monkey.sender_deaths])
    check_database(scenario, database, lifecycles)
    REPORT.check(scenario, "no worker survives its supervisor's SIGKILL (checked in /proc)",
                 monkey.counts["supervisor SIGKILLs"] >= 3,
                 f"only {monkey.counts['supervisor SIGKILLs']} supervisor SIGKILLs happened")
    REPORT.detail(scenario, "the chaos driver ran to the end", ", ".join(f"{v} {k}" for k, v in monkey.counts.items()))
    REPORT.check(scenario, "the chaos driver ran to the end",
                 monkey.counts["worker SIGKILLs"] >= 5 and monkey.counts["telegram worker SIGKILLs"] >= 2,
                 f"only {monkey.counts['worker SIGKILLs']} worker SIGKILLs, "
                 f"{monkey.counts['telegram worker SIGKILLs']} of the telegram worker")
    calls = {bot.name: states[bot.name]["calls"] for bot in bots}
    log(f"telegram: Bot API calls {calls}")
    log(f"telegram: done in {time.monotonic() - started:.0f} s")


def tamper(bots, messages, database):
    """The checks' own check (--tamper): a copy nobody explains in a chat, an update never
    acknowledged, a download that came through no bot and an illegal event."""
    log("telegram: TAMPERING on purpose: every check below should find what was done")
    relay = next(bot for bot in bots if bot.target)
    sent = next(m for m in relay.api.state()["sent"] if m["method"] == relay.send_method)
    import http.client  # noqa: PLC0415 — only the tamper run sends as the bot itself
    import uuid  # noqa: PLC0415

    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n{relay.target_chat}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n{sent['caption']}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{relay.send_as}\"; filename=\"x\"\r\n\r\n"
            f"tampered\r\n--{boundary}--\r\n").encode()
    connection = http.client.HTTPConnection("127.0.0.1", relay.api.port, timeout=10)
    connection.request("POST", f"/bot{relay.api.token}/{relay.send_method}", body=body,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    connection.getresponse().read()
    connection.close()
    relay.api.receive({"chat": {"id": relay.chats[0]}, "text": "after the end"})
    connection = sqlite3.connect(database)
    job = connection.execute("SELECT job_id FROM telegram_sources LIMIT 1").fetchone()[0]
    connection.execute("DELETE FROM telegram_sources WHERE job_id = ?", (job,))
    connection.execute("INSERT INTO job_events (job_id, at, from_state, to_state, cause, attempt) "
                       "VALUES (?, ?, 'succeeded', 'running', 'claim', 1)", (job, int(time.time() * 1000)))
    connection.commit()
    connection.close()
    log(f"telegram: tampered: a second copy of {sent['caption']!r} in chat {relay.target_chat}, an update after "
        f"the end, download {job} cut from its bot, an illegal event")
