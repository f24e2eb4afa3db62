"""A fake Telegram Bot API server on loopback for the tests and the chaos suite: no test reaches Telegram.

Usage: fake_bot_api.py PORT_FILE --token TOKEN [--local FOLDER]

Bot API (https://core.telegram.org/bots/api), as Ferry uses it, under /bot<TOKEN>/<method>
(parameters from the query, a form, JSON or multipart body; a wrong token answers 401):
  getUpdates  offset (confirms, i.e. forgets for good, every update below it), limit, timeout
              (long polling: waits up to that many seconds for an update); as on Telegram, a
              getUpdates still waiting when another arrives is ended with 409 "Conflict:
              terminated by other getUpdates request" (counted in the state's "conflicts", its
              wall-clock time kept in "conflict_times")
  getFile     file_id -> {file_id, file_unique_id, file_size, file_path}; above 20 MB without
              --local it answers 400 "Bad Request: file is too big", as Telegram does
  sendDocument, sendVideo, sendAudio  multipart with the file; the message is kept in the chat
              with every other field it carried and every file part (a thumbnail's too)
  sendMessage (chat_id, text, reply_to_message_id), editMessageText (chat_id, message_id, text):
              the bot's text messages, kept in the chat with their latest text and their edits counted
GET /file/bot<TOKEN>/<file_path> serves a file, with Range and If-Range (ETag); its faults are
planned under the method name "file", where {"cut_after_bytes": n} sends the whole answer's
headers but only n bytes of the body before closing the connection.
With --local FOLDER (a local Bot API server started with --local), files live in FOLDER and
getFile answers their absolute path, of any size.

Control endpoints for the tests:
  POST /control/file    {"size": n, "seed": s}  -> {"file_id", "file_unique_id", "file_size"}:
                        a file of n bytes: bytes((i + s) % 251 for i in range(n)); or
                        {"base64": b} -> the same for a file of those bytes (a real video, say)
  POST /control/update  {"message": {...}}  -> {"update_id"}: queued for getUpdates; the
                        message gets a message_id and date when it has none
  POST /control/fault   {"method": m, "count": k, "status": 429|500..., "retry_after": s} or
                        {"method": m, "count": k, "cut": true} (close the connection without an
                        answer) or {"method": m, "count": k, "cut_after": true} (do the work,
                        then close without an answer: a lost answer) or {"method": m, "count": k,
                        "stall_after": s} (do the work, then wait s seconds before answering)
  GET  /control/state   {"confirmed_offset", "pending", "next_update", "delivered": [update ids
                        answered by getUpdates, in order], "sent": [messages sent by the bot],
                        "calls": {method: n}, "conflicts": n, "conflict_times": [epoch s],
                        "file_requests": [{"path", "range", "status"} of every
                        file download], "call_log": [{"method", "chat_id", "at", "answer",
                        "retry_after"} of every Bot API call but getUpdates and getFile: "at" the
                        wall-clock time its request line arrived (before its body), "answer" its
                        HTTP status, or "cut" / "cut_after" for a connection closed before / after
                        the work, or "gone" for a request whose sender hung up before all of
                        its body arrived (answered with nothing, taking no planned fault)]}
Once listening it writes its port to PORT_FILE (atomically) and serves until killed or orphaned.
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP

# The loopback servers' shared start-up and content live beside the test origin.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Origin"))
from loopback import content, serve  # noqa: E402

PUBLIC_DOWNLOAD_LIMIT = 20 << 20
arguments = argparse.ArgumentParser()
arguments.add_argument("port_file")
arguments.add_argument("--token", required=True)
arguments.add_argument("--local")
options = arguments.parse_args()

changed = threading.Condition()
state = {
    "next_update": 1, "next_message": 1, "next_file": 1, "confirmed_offset": 0,
    "updates": [], "files": {}, "faults": [], "delivered": [], "sent": [], "calls": {}, "file_requests": [],
    "call_log": [], "polls": 0, "conflicts": 0, "conflict_times": [],
}
# The methods whose calls go into the call log: those that post to a chat (flood control applies).
LOGGED_METHODS = {"sendDocument", "sendVideo", "sendAudio", "sendMessage", "editMessageText"}




def fault_for(method):
    """Takes one planned fault of a method, if any."""
    for fault in state["faults"]:
        if fault["method"] == method and fault["count"] > 0:
            fault["count"] -= 1
            return dict(fault)
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def route(self):
        arrived = time.time()  # before the body: what a sender's pacing controls
        url = urllib.parse.urlparse(self.path)
        parameters = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        files = {}
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = self.rfile.read(length) if length else b""
        except OSError:
            body = b""
        if len(body) < length:
            return self.gone(url, arrived, body)
        kind = self.headers.get("Content-Type") or ""
        if kind.startswith("application/json") and body:
            parameters.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(body).items()})
        elif kind.startswith("application/x-www-form-urlencoded"):
            parameters.update({k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()})
        elif kind.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + kind.encode() + b"\r\n\r\n" + body)
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True) or b""
                if part.get_filename() is not None:
                    files[name] = (part.get_filename(), data, part.get_content_type())
                else:
                    parameters[name] = data.decode()
        parts = url.path.strip("/").split("/")
        if parts[0] == "control":
            return self.control(parts[1] if len(parts) > 1 else "", json.loads(body) if body else {})
        if parts[0] == "file" and len(parts) >= 3:
            if parts[1] != "bot" + options.token:
                return self.answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return self.serve_file("/".join(parts[2:]))
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return self.answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if parts[0] != "bot" + options.token:
            return self.answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = parts[1]
        logged = {"method": method, "chat_id": parameters.get("chat_id"), "at": arrived}
        with changed:
            state["calls"][method] = state["calls"].get(method, 0) + 1
            fault = fault_for(method)
            if method in LOGGED_METHODS:
                state["call_log"].append(logged)
        if fault and fault.get("cut"):
            logged["answer"] = "cut"
            return self.cut()
        if fault and fault.get("status"):
            status = fault["status"]
            answer = {"ok": False, "error_code": status, "description": f"fault injected: {status}"}
            if status == 429:
                answer["description"] = f"Too Many Requests: retry after {fault.get('retry_after', 1)}"
                answer["parameters"] = {"retry_after": fault.get("retry_after", 1)}
                logged["retry_after"] = fault.get("retry_after", 1)
            logged["answer"] = status
            return self.answer(status, answer)
        handler = {"getUpdates": self.get_updates, "getFile": self.get_file, "sendDocument": self.send_media,
                   "sendVideo": self.send_media, "sendAudio": self.send_media, "sendMessage": self.send_text,
                   "editMessageText": self.edit_text}.get(method)
        if handler is None:
            return self.answer(404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})
        status, answer = handler(method, parameters, files)
        logged["answer"] = status
        if fault and fault.get("stall_after"):
            time.sleep(fault["stall_after"])
        if fault and fault.get("cut_after"):
            logged["answer"] = "cut_after"
            return self.cut()
        self.answer(status, answer)

    def get_updates(self, method, parameters, files):
        deadline = time.monotonic() + min(float(parameters.get("timeout", 0)), 60)
        limit = int(parameters.get("limit", 100))
        with changed:
            if "offset" in parameters:
                offset = int(parameters["offset"])
                state["confirmed_offset"] = max(state["confirmed_offset"], offset)
                state["updates"] = [u for u in state["updates"] if u["update_id"] >= offset]
            # One getUpdates at a time: a newer one ends this one, as Telegram does.
            state["polls"] += 1
            poll = state["polls"]
            changed.notify_all()
            while not state["updates"] and time.monotonic() < deadline and state["polls"] == poll:
                changed.wait(deadline - time.monotonic())
            if state["polls"] != poll:
                state["conflicts"] += 1
                state["conflict_times"].append(time.time())
                return 409, {"ok": False, "error_code": 409, "description":
                             "Conflict: terminated by other getUpdates request; "
                             "make sure that only one bot instance is running"}
            answered = state["updates"][:limit]
            state["delivered"] += [u["update_id"] for u in answered]
        return 200, {"ok": True, "result": answered}

    def get_file(self, method, parameters, files):
        with changed:
            file = state["files"].get(parameters.get("file_id", ""))
        if file is None:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}
        if file["size"] > PUBLIC_DOWNLOAD_LIMIT and not options.local:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: file is too big"}
        return 200, {"ok": True, "result": {"file_id": file["file_id"], "file_unique_id": file["file_unique_id"],
                                            "file_size": file["size"], "file_path": file["path"]}}

    def send_media(self, method, parameters, files):
        field = {"sendDocument": "document", "sendVideo": "video", "sendAudio": "audio"}[method]
        if field not in files:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: there is no {field} in the request"}
        name, data, _ = files[field]
        with changed:
            file = new_file(len(data), data=data)
            message = {"message_id": state["next_message"], "date": int(time.time()),
                       "chat": {"id": int(parameters.get("chat_id", 0))}, "caption": parameters.get("caption"),
                       field: {"file_id": file["file_id"], "file_unique_id": file["file_unique_id"],
                               "file_name": name, "file_size": len(data)}}
            state["next_message"] += 1
            state["sent"].append({"method": method, "chat_id": parameters.get("chat_id"), "file_name": name,
                                  "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                  "caption": parameters.get("caption"), "message_id": message["message_id"],
                                  "fields": {k: v for k, v in parameters.items() if k not in ("chat_id", "caption")},
                                  "parts": {part: {"file_name": part_name, "size": len(part_data),
                                                   "sha256": hashlib.sha256(part_data).hexdigest(),
                                                   "content_type": part_type}
                                            for part, (part_name, part_data, part_type) in files.items()}})
        return 200, {"ok": True, "result": message}

    def send_text(self, method, parameters, files):
        with changed:
            message = {"message_id": state["next_message"], "date": int(time.time()),
                       "chat": {"id": int(parameters.get("chat_id", 0))}, "text": parameters.get("text", "")}
            state["next_message"] += 1
            state["sent"].append({"method": method, "chat_id": parameters.get("chat_id"),
                                  "message_id": message["message_id"], "text": message["text"],
                                  "reply_to": int(parameters["reply_to_message_id"])
                                  if "reply_to_message_id" in parameters else None, "edits": 0})
        return 200, {"ok": True, "result": message}

    def edit_text(self, method, parameters, files):
        with changed:
            kept = next((m for m in state["sent"] if m["message_id"] == int(parameters.get("message_id", 0))
                         and m["chat_id"] == parameters.get("chat_id") and "text" in m), None)
            if kept is None:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"}
            kept["text"] = parameters.get("text", "")
            kept["edits"] += 1
            message = {"message_id": kept["message_id"], "chat": {"id": int(kept["chat_id"])}, "text": kept["text"]}
        return 200, {"ok": True, "result": message}

    def serve_file(self, path):
        with changed:
            file = next((f for f in state["files"].values() if f["path"] == path), None)
            fault = fault_for("file")
        if file is None:
            return self.answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        data = file_bytes(file)
        etag = '"%s"' % file["file_unique_id"]
        start, status = 0, 200
        wanted = self.headers.get("Range")
        if wanted and wanted.startswith("bytes=") and self.headers.get("If-Range") in (None, etag):
            start = int(wanted[6:].split("-")[0])
            status = 206
        with changed:
            state["file_requests"].append({"path": path, "range": wanted, "status": status})
        self.send_response(status)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if fault and fault.get("cut_after_bytes") is not None:
            self.wfile.write(data[start:start + fault["cut_after_bytes"]])
            self.wfile.flush()
            return self.cut()
        self.wfile.write(data[start:])

    def control(self, what, body):
        with changed:
            if what == "file":
                if "base64" in body:
                    data = base64.b64decode(body["base64"])
                    file = new_file(len(data), data=data)
                else:
                    file = new_file(int(body["size"]), seed=int(body.get("seed", 0)))
                return self.answer(200, {"file_id": file["file_id"], "file_unique_id": file["file_unique_id"],
                                         "file_size": file["size"]})
            if what == "update":
                message = body["message"]
                message.setdefault("message_id", state["next_message"])
                message.setdefault("date", int(time.time()))
                state["next_message"] = max(state["next_message"], message["message_id"]) + 1
                update = {"update_id": state["next_update"], "message": message}
                state["next_update"] += 1
                state["updates"].append(update)
                changed.notify_all()
                return self.answer(200, {"update_id": update["update_id"]})
            if what == "fault":
                state["faults"].append(body)
                return self.answer(200, {})
            if what == "state":
                return self.answer(200, {"confirmed_offset": state["confirmed_offset"],
                                         "pending": len(state["updates"]), "next_update": state["next_update"],
                                         "delivered": state["delivered"], "sent": state["sent"],
                                         "calls": state["calls"], "conflicts": state["conflicts"],
                                         "conflict_times": state["conflict_times"],
                                         "file_requests": state["file_requests"],
                                         "call_log": state["call_log"]})
        self.answer(404, {"error": "unknown control endpoint"})

    def answer(self, status, value):
        body = json.dumps(value).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client hung up first (a node killed mid-poll, a long poll it gave up on), as
            # Telegram's clients do: nothing to answer, and no traceback in the log.
            self.close_connection = True

    def gone(self, url, arrived, body):
        """The sender hung up (or died) before its whole request arrived: as on Telegram, no
        answer, no work and no planned fault taken; the call is logged as "gone"."""
        method = url.path.strip("/").split("/")[-1]
        chat = re.search(rb'name="chat_id"\r\n\r\n(-?\d+)', body)
        if method in LOGGED_METHODS:
            with changed:
                state["call_log"].append({"method": method, "chat_id": chat[1].decode() if chat else None,
                                          "at": arrived, "answer": "gone"})
        self.close_connection = True

    def cut(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def new_file(size, seed=0, data=None):
    """Registers a file (the caller holds the lock); its bytes are made when served unless given."""
    number = state["next_file"]
    state["next_file"] += 1
    file = {"file_id": f"BQACAgIAAx0-file-{number}", "file_unique_id": f"AgAD{number}", "size": size,
            "seed": seed, "data": data, "path": f"documents/file_{number}.bin"}
    if options.local:
        file["path"] = os.path.join(options.local, "documents", f"file_{number}.bin")
        os.makedirs(os.path.dirname(file["path"]), exist_ok=True)
        with open(file["path"], "wb") as out:
            out.write(data if data is not None else content(size, seed))
    state["files"][file["file_id"]] = file
    return file


def file_bytes(file):
    return file["data"] if file["data"] is not None else content(file["size"], file["seed"])


serve(Handler, options.port_file)
