"""The repository's fake Bot API (Sources/FerryTesting/BotAPI/fake_bot_api.py), one per bot.

Each server accepts one token, keeps its bot's updates, files and chats, and is played through
its control endpoints: a file to send, a message in a chat, a fault for the next calls of a
method, and everything it saw (see the script's header).
"""
import http.client
import json
import os
import sys
import time

from ... import REPO
from ...processes import spawn, wait_until

BOTAPI_SCRIPT = REPO / "Sources/FerryTesting/BotAPI/fake_bot_api.py"


class FakeBotAPI:
    def __init__(self, scratch, name, bot_user_id):
        self.name = name
        self.token = f"{bot_user_id}:chaos-{name}-{os.getpid()}"
        self.token_file = scratch / f"token-{name}"
        self.token_file.write_text(self.token + "\n")
        self.token_file.chmod(0o600)
        port_file = scratch / f"botapi-{name}-{time.monotonic_ns()}.port"
        self.process = spawn([sys.executable, str(BOTAPI_SCRIPT), str(port_file), "--token", self.token],
                             scratch / f"botapi-{name}.log")
        if not wait_until(lambda: port_file.exists(), 15):
            raise SystemExit(f"chaos: the fake Bot API of bot {name} did not start")
        self.port = int(port_file.read_text())
        self.base = f"http://127.0.0.1:{self.port}"

    def control(self, what, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            if body is None:
                connection.request("GET", f"/control/{what}")
            else:
                connection.request("POST", f"/control/{what}", body=json.dumps(body),
                                   headers={"Content-Type": "application/json"})
            return json.loads(connection.getresponse().read())
        finally:
            connection.close()

    def add_file(self, size, seed):
        """A file of test_origin's content for (size, seed): {file_id, file_unique_id, file_size}."""
        return self.control("file", {"size": size, "seed": seed})

    def receive(self, message):
        """Queues an update carrying `message`; returns its update id."""
        return self.control("update", {"message": message})["update_id"]

    def fault(self, method, count=1, **kind):
        """The next `count` calls of `method` fail: status=…, retry_after=…, cut=True, cut_after=True,
        or (method "file") cut_after_bytes=n."""
        self.control("fault", {"method": method, "count": count, **kind})

    def state(self):
        return self.control("state")
