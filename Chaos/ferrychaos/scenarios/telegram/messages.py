"""The telegram scenario's bots and the messages their chats send, each with what it must become.

Every message that carries work carries one item (a file or a link), so it must become exactly
one download with known bytes: the fake Bot API's files and the origin's are test_origin's
content for their (size, seed). The rest must become none: a file the chat sent before, a chat
the bot does not listen to, a text without a link.
"""
from ...origin import origin_sha256


class Bot:
    """A configured bot on a fake Bot API of its own; `target` is the telegram target it sends to."""

    def __init__(self, name, chats, targets, target=None, send_as=None, target_chat=None, delete=False):
        self.name, self.chats, self.targets, self.delete = name, chats, targets, delete
        self.target, self.send_as, self.target_chat = target, send_as, target_chat
        self.api = None  # its FakeBotAPI, once started

    @property
    def send_method(self):
        return "send" + self.send_as.capitalize() if self.send_as else None


def make_bots():
    # Sends to a chat are paced about one a second, so the messages that end in a Telegram chat
    # are spread over three chats, one per relay bot.
    return [
        Bot("inbox", [101, 102, 103], ["folder"]),
        Bot("relay-doc", [201], ["tg-doc"], "tg-doc", "document", 901),
        Bot("relay-video", [301], ["tg-video", "folder"], "tg-video", "video", 902, delete=True),
        Bot("relay-audio", [401, 402], ["tg-audio"], "tg-audio", "audio", 903),
    ]


STRANGER_CHAT = 999


def relay_config(bots):
    """The bots' `targets:` entries (indented to sit under it) and the `telegram:` section."""
    text = ""
    for bot in bots:
        if bot.target:
            text += f"""  {bot.target}:
    type: telegram
    bot: {bot.name}
    chat_id: {bot.target_chat}
    as: {bot.send_as}
    caption: "d{{download_id}} {{file_name}}"
"""
    text += "telegram:\n  bots:\n"
    for bot in bots:
        text += f"""    {bot.name}:
      token_file: {bot.api.token_file}
      base_url: {bot.api.base}
      allowed_chats: [{", ".join(str(c) for c in bot.chats)}]
      upload_targets: [{", ".join(bot.targets)}]
      delete_after_upload: {"true" if bot.delete else "false"}
"""
    return text


class Message:
    """One message in a bot's chat: its body and the download it must become (None: no download)."""

    def __init__(self, bot, index, kind, body, expected):
        self.bot, self.index, self.kind, self.body = bot, index, kind, body
        self.expected = expected  # (size, sha256), or None when it must make no download
        self.update_id = None  # the fake Bot API's, once sent


def make_messages(rng, count, bots, origin, run_id, inbox_share=0.75):
    """`count` messages over the bots: `inbox_share` of them to the inbox's chats, the rest to the relays."""
    weights = {"document": 30, "video": 14, "audio": 8, "photo": 10, "animation": 7, "link": 17,
               "hidden-link": 5, "repeat": 4, "stranger": 2, "empty": 3}
    kinds = list(weights)
    sent_media = {}  # (bot, chat) -> earlier media bodies, for repeats
    messages = []
    seed = 0
    for index in range(count):
        bot = bots[0] if rng.random() < inbox_share else rng.choice(bots[1:])
        chat = rng.choice(bot.chats)
        kind = rng.choices(kinds, [weights[k] for k in kinds])[0]
        if kind == "repeat" and not sent_media.get((bot.name, chat)):
            kind = "document"
        roll = rng.random()
        size = rng.randint(1024, 300_000) if roll < 0.85 else rng.randint(300_000, 2_000_000)
        seed += 1
        body = {"chat": {"id": chat, "type": "private"}}
        expected = None

        def media(file_size, file_seed, **extra):
            file = bot.api.add_file(file_size, file_seed)
            entry = {"file_id": file["file_id"], "file_unique_id": file["file_unique_id"], **extra}
            if rng.random() < 0.9:
                entry["file_size"] = file_size
            return entry

        if kind in ("document", "video", "audio", "animation"):
            suffix = {"document": "bin", "video": "mp4", "audio": "mp3", "animation": "gif.mp4"}[kind]
            mime = {"document": "application/octet-stream", "video": "video/mp4", "audio": "audio/mpeg",
                    "animation": "video/mp4"}[kind]
            extra = {"file_name": f"{run_id}-{index}.{suffix}", "mime_type": mime}
            if kind in ("video", "animation"):
                extra.update({"width": 640, "height": 360, "duration": 3})
            if kind == "audio":
                extra["duration"] = 4
            entry = media(size, seed, **extra)
            body[kind] = entry
            if kind == "animation":
                body["document"] = entry  # Telegram sends an animation as a document too
            expected = (size, origin_sha256(size, seed))
            sent_media.setdefault((bot.name, chat), []).append(entry)
        elif kind == "photo":
            sizes = [(90, 60, rng.randint(500, 3000)), (320, 240, rng.randint(3000, 20_000)), (1280, 960, size)]
            body["photo"] = []
            for width, height, photo_size in sizes:
                seed += 1
                body["photo"].append(media(photo_size, seed, width=width, height=height))
            rng.shuffle(body["photo"])
            expected = (size, origin_sha256(size, seed))
            sent_media.setdefault((bot.name, chat), []).append(
                next(p for p in body["photo"] if p.get("width") == 1280))
        elif kind in ("link", "hidden-link"):
            faults = rng.choice([{}, {}, {"cut": rng.randint(1, size - 1)}, {"fail": 500, "failures": 1},
                                 {"fail": 429, "failures": 1}])
            url = origin.url(size, key=f"{run_id}-{index}", **faults)
            if kind == "link":
                body["text"] = f"please fetch {url} thanks"
            else:
                body["text"] = "see this"
                body["entities"] = [{"type": "text_link", "offset": 4, "length": 4, "url": url}]
            expected = (size, origin_sha256(size))
        elif kind == "repeat":
            earlier = rng.choice(sent_media[(bot.name, chat)])
            body["document"] = dict(earlier, file_name=f"{run_id}-{index}-again.bin")
            body["caption"] = "this one again"
        elif kind == "stranger":
            body["chat"] = {"id": STRANGER_CHAT, "type": "private"}
            body["document"] = media(size, seed, file_name=f"{run_id}-{index}-stranger.bin")
        else:
            body["text"] = "hello, no link here"
        messages.append(Message(bot, index, kind, body, expected))
    return messages
