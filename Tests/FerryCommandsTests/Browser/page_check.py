#!/usr/bin/env python3
"""Drives Debian's Chromium (headless) over the DevTools protocol against Ferry's admin page.

Usage: page_check.py BASE_URL RUNNING_JOB_ID RETRY_JOB_ID SCREENSHOT.png SUBMIT_URL
       page_check.py BASE_URL --crash-card SCREENSHOT.png   (only load, wait for the crash-loop card)
       page_check.py BASE_URL --cluster-card SCREENSHOT.png (only load, wait for the cluster card's nodes)
       page_check.py BASE_URL --forget-node NAME SCREENSHOT.png (forget a dead node from its row's button,
           answering the page's prompt with NAME, and wait for the page to say it is forgotten)

Loads the page, collects every console error and uncaught exception, waits until the running
job's progress bar moves, clicks the retry button of the other job and waits for its new state,
queues SUBMIT_URL through the form, opens the running download's detail (uploads, event log,
actions), filters the list by state, runs axe-core (from PyPI's axe-selenium-python) on the page,
saves a screenshot, and prints what it saw as one JSON object.
"""
import importlib.util
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client


def main():
    submit_url = None
    if sys.argv[2] in ("--crash-card", "--cluster-card"):
        base, running_id, retry_id, screenshot = sys.argv[1], sys.argv[2], None, sys.argv[3]
    else:
        base, running_id, retry_id, screenshot = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    submit_url = sys.argv[5] if len(sys.argv) > 5 else None
    profile = tempfile.mkdtemp(prefix="ferry-chromium-")
    browser = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "--window-size=1400,1100", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        result = drive(profile, base, running_id, retry_id, screenshot, submit_url)
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(result))


def axe_source():
    """axe-core's script as axe-selenium-python ships it (found without importing selenium)."""
    spec = importlib.util.find_spec("axe_selenium_python")
    folder = list(spec.submodule_search_locations)[0]
    with open(os.path.join(folder, "node_modules", "axe-core", "axe.min.js")) as f:
        return f.read()


def drive(profile, base, running_id, retry_id, screenshot, submit_url):
    # Chromium creates the file before it writes the port into it: wait for the port itself.
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.time() + 30
    port = None
    while port is None and time.time() < deadline:
        try:
            with open(port_file) as f:
                port = (f.read().split() or [None])[0]
        except FileNotFoundError:
            pass
        if port is None:
            time.sleep(0.1)
    if port is None:
        raise SystemExit(f"page_check: Chromium wrote no DevTools port to {port_file} within 30 s")
    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
    page = next(t for t in targets if t["type"] == "page")
    ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
    state = {"next": 0, "errors": [], "network": []}

    def call(method, **params):
        state["next"] += 1
        ident = state["next"]
        ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(ws.recv())
            if message.get("id") == ident:
                return message.get("result", {})
            note(message)

    def note(message):
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            state["errors"].append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            state["errors"].append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            # Failed requests are reported apart: a 503 from a failing health check is by design.
            kind = "network" if entry.get("source") == "network" else "errors"
            state[kind].append(entry.get("text", "") + " " + entry.get("url", ""))

    def evaluate(expression, wait=False):
        value = call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=wait)
        return value.get("result", {}).get("value")

    def wait_for(expression, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            value = evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        return evaluate(expression)

    call("Runtime.enable")
    call("Log.enable")
    call("Page.enable")
    call("Page.navigate", url=base + "/")
    loaded = wait_for('document.body.dataset.loaded === "true"')
    def card_seen(name, card):
        """The load-only modes' answer: the card seen, a screenshot, the errors."""
        shot = call("Page.captureScreenshot", format="png")
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        ws.close()
        return {"loaded": bool(loaded), name: card, "console_errors": state["errors"],
                "network_errors": state["network"]}

    if running_id == "--cluster-card":
        # Every node's row, once the card shows more than one.
        card = wait_for('(() => { const c = document.getElementById("cluster-section");'
                        ' const rows = [...c.querySelectorAll("#cluster tbody tr")].map(r => [...r.children].map(d => d.textContent));'
                        ' return !c.hidden && rows.length > 1 ? { state: document.getElementById("cluster-state").textContent, rows,'
                        ' cleanup_button_shown: !document.getElementById("cleanup-run").hidden } : null; })()')
        return card_seen("cluster_card", card)
    if running_id == "--forget-node":
        name = retry_id
        button = f'document.querySelector(\'#cluster button[aria-label="forget node {name}"]\')'
        shown = wait_for(f'!!{button}')
        # The page asks for the name in a prompt: answered here, and what it said kept.
        evaluate(f'(() => {{ window.prompt = (text) => {{ window.ferryPrompt = text; return {json.dumps(name)}; }};'
                 f' {button}.click(); return true; }})()')
        said = wait_for('(() => { const t = document.getElementById("cluster-note").textContent;'
                        ' return t.startsWith("Forgot node") ? t : null; })()')
        # The next refresh shows the node forgotten, and its button gone.
        rows = wait_for('(() => { const rows = [...document.querySelectorAll("#cluster tbody tr")].map(r => [...r.children].map(d => d.textContent));'
                        f' return rows.some(r => r[2] === "no: forgotten") && !{button} ? rows : null; }})()')
        return card_seen("forget", {"button_shown": shown, "prompt": evaluate("window.ferryPrompt || null"),
                                    "note": said, "rows": rows})
    if running_id == "--crash-card":
        card = wait_for('(() => { const c = document.getElementById("crash-loop"); return c && !c.hidden ? c.textContent : null; })()')
        return card_seen("crash_card", card)
    row = f'document.querySelector(\'tr[data-job="{running_id}"]\')'
    progress = wait_for(
        f'(() => {{ const r = {row}; if (!r || r.dataset.state !== "running") return null;'
        f' const w = parseFloat(r.querySelector(".bar > span").style.width); return w > 0 ? w : null; }})()')
    retry_row = f'document.querySelector(\'tr[data-job="{retry_id}"]\')'
    before = evaluate(f'{retry_row} && {retry_row}.dataset.state')
    clicked = evaluate(
        f'(() => {{ const b = [...{retry_row}.querySelectorAll("button")].find(x => x.textContent === "retry");'
        f' if (!b) return false; b.click(); return true; }})()')
    after = wait_for(
        f'(() => {{ const s = {retry_row} && {retry_row}.dataset.state; return s && s !== "{before}" ? s : null; }})()')
    evaluate('document.getElementById("cleanup-run").click()')
    cleanup = wait_for(
        '(() => { const t = document.getElementById("cleanup").textContent;'
        ' return /^Run \\d+ \\(request\\): (succeeded|failed)/.test(t) ? t : null; })()')
    status = evaluate('document.getElementById("status").textContent')
    live = wait_for('document.getElementById("connection").textContent === "live"', timeout=10)
    # The form queues a download that then shows in the list under its file name.
    submitted = None
    if submit_url:
        evaluate(f'document.getElementById("submit-url").value = {json.dumps(submit_url)};'
                 ' document.getElementById("submit-name").value = "from-the-form.bin";'
                 ' document.querySelector("#submit button[type=submit]").click()')
        submitted = wait_for(
            '(() => { const r = [...document.querySelectorAll("#jobs tr")].find(t => t.children[2]'
            ' && t.children[2].textContent === "from-the-form.bin"); return r ? r.dataset.job : null; })()')
        submitted = {"job": submitted, "result": evaluate('document.getElementById("submit-result").textContent')}
    # The running download's detail: summary, event log, uploads and the actions that apply.
    evaluate(f'{row}.querySelector("button.link").click()')
    detail = wait_for(
        '(() => { const d = document.getElementById("detail"); const n = d.querySelectorAll("#detail-events tbody tr").length;'
        ' return d.open && n > 0 ? { events: n, actions: [...d.querySelectorAll("#detail-actions button")].map(b => b.textContent),'
        ' summary: document.getElementById("detail-summary").textContent } : null; })()')
    evaluate('document.getElementById("detail-close").click()')
    # Filtering by state: only running downloads are listed.
    evaluate('(() => { const s = document.getElementById("downloads-state"); s.value = "running"; s.dispatchEvent(new Event("change")); })()')
    filtered = wait_for(
        '(() => { const rows = [...document.querySelectorAll("#jobs tbody tr")];'
        ' return rows.length > 0 && rows.every(r => r.dataset.state === "running") ? rows.length : null; })()')
    evaluate('(() => { const s = document.getElementById("downloads-state"); s.value = ""; s.dispatchEvent(new Event("change")); })()')
    lists = evaluate('["uploads-list", "videos-list"].every(id => document.getElementById(id) !== null)')
    # Accessibility: axe-core's serious and critical findings.
    evaluate(axe_source())
    axe = evaluate(
        'axe.run(document).then(r => r.violations.filter(v => ["serious", "critical"].includes(v.impact))'
        '.map(v => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`))',
        wait=True)
    time.sleep(0.5)
    shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    with open(screenshot, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    # Drain whatever arrived meanwhile so late errors are counted too.
    ws.settimeout(0.5)
    try:
        while True:
            note(json.loads(ws.recv()))
    except Exception:
        pass
    ws.close()
    return {"loaded": bool(loaded), "progress_percent": progress, "retry_clicked": clicked,
            "retry_state_before": before, "retry_state_after": after, "cleanup": cleanup, "status": status,
            "live": bool(live), "submitted": submitted, "detail": detail, "filtered": filtered, "lists": lists,
            "axe_violations": axe,
            "console_errors": state["errors"], "network_errors": state["network"]}


if __name__ == "__main__":
    main()
