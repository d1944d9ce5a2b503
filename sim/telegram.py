"""Telegram Bot API emulator: `/bot<token>/<method>` plus a `/_sim/` control API that acts as the user.

It enforces what real Telegram enforces and a bot must survive: 4096-character texts, 64-byte
callback data, HTML entity parsing, "message is not modified", flood control (429 + retry_after),
blocked users (403), and injected outages.

Embedded use (the local chat page, bot/web/): built with `token=`, it answers only that bot token
(401 otherwise, as Telegram does); `app(control=False)` leaves out the `/_sim/` routes; `subscribe`
tells a listener of every change a chat client would see (new and edited messages, deletions,
callback answers, the command menu); `user_send`/`user_press` act as the user in process; `keep`
bounds what is remembered (messages per chat, their files, the call log).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, MutableSequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from exchanges.aio import within
from sim.telegram_rules import check_markup, check_text

log = logging.getLogger(__name__)
# a change a chat client would show: ("message" | "deleted" | "answer" | "commands", chat id (0: every
# chat), what changed: the Msg (new or edited), {"message_id"}, a callback answer, {"commands"})
Listener = Callable[[str, int, Any], None]

BOT_USER = {"id": 7_000_000_001, "is_bot": True, "first_name": "tradebot", "username": "tradebot_sim_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class Msg:
    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    photo: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    caption: str | None = None
    edits: int = 0
    from_user: dict[str, Any] | None = None
    silent: bool = False


@dataclass
class Bucket:
    """Token bucket: `capacity` messages at once, refilled at `rate` per second."""

    capacity: float
    rate: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 when allowed, else the seconds until a message would be."""
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.capacity
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class Fault:
    kind: str  # "429" | "500" | "502" | "403" | "timeout" | "down"
    count: int = 1
    until: float | None = None  # monotonic deadline for duration faults
    retry_after: int = 1
    methods: frozenset[str] | None = None


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


SENDING = {"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageReplyMarkup"}


class UserActionError(ValueError):
    """A press the user could not make (no such message, no such button): the control API's 400."""


class TelegramSim:
    def __init__(self, *, chat_capacity: float = 10, chat_rate: float = 1.0, global_rate: float = 30.0,
                 token: str | None = None, keep: int | None = None):
        self.updates: list[dict[str, Any]] = []
        self._update_id = itertools.count(100_000)
        self._new_update = asyncio.Event()
        self.messages: dict[int, list[Msg]] = {}
        self.answers: dict[int, list[dict[str, Any]]] = {}
        self.callbacks: dict[str, int] = {}  # callback query id -> chat id
        self.commands: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.blocked: set[int] = set()
        self.faults: list[Fault] = []
        self.chat_limits = (chat_capacity, chat_rate)
        self.chat_buckets: dict[int, Bucket] = {}
        self.global_bucket = Bucket(global_rate, global_rate)
        self.calls: MutableSequence[str] = [] if keep is None else deque(maxlen=keep)
        self.flood_hits = 0
        self.token = token  # None: any token is a bot's (tests); else only this one
        self.keep = keep  # None: remember everything (tests); else this many messages per chat
        self._listeners: list[Listener] = []

    # ---- listeners (the embedded chat page) ----
    def subscribe(self, fn: Listener) -> Callable[[], None]:
        """Call `fn` on every change a chat client would show; returns the unsubscribe function."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def _tell(self, event: str, chat_id: int, payload: Any) -> None:
        for fn in list(self._listeners):
            try:
                fn(event, chat_id, payload)
            except Exception:  # a listener's bug never fails the Bot API call that caused it
                log.exception("telegram emulator listener failed on %s", event)

    def wake(self) -> None:
        """End every pending long poll now (shutting down: a poll must not hold the server open)."""
        self._new_update.set()

    # ---- app ----
    def app(self, *, control: bool = True) -> web.Application:
        """The Bot API, and (`control`) the `/_sim/` routes that act as the user."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        if not control:
            return app
        app.router.add_post("/_sim/send", self.sim_send)
        app.router.add_post("/_sim/press", self.sim_press)
        app.router.add_get("/_sim/chats/{chat_id}", self.sim_chat)
        app.router.add_post("/_sim/fault", self.sim_fault)
        app.router.add_post("/_sim/clear", self.sim_clear)
        app.router.add_post("/_sim/block", self.sim_block)
        app.router.add_get("/_sim/files/{file_id}", self.sim_file)
        return app

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json()) if request.can_read_body else {}
        if request.content_type.startswith("multipart/"):
            out: dict[str, Any] = {}
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue  # a nested multipart or an unnamed part: the Bot API reads neither
                if part.filename:
                    out[part.name] = {"filename": part.filename, "data": await part.read()}
                else:
                    out[part.name] = await part.text()
            return out
        return dict(await request.post()) if request.can_read_body else dict(request.query)

    @staticmethod
    def _json(value: Any) -> Any:
        """Form bodies carry non-string values JSON-encoded (reply_markup, commands)."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        if self.token is not None and not hmac.compare_digest(request.match_info["token"].encode(),
                                                               self.token.encode()):
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        try:
            params = await self._params(request)
            await self._apply_faults(method)
            fn = getattr(self, f"m_{method}", None)
            if fn is None:
                raise ApiError(404, "Not Found: method not found")
            if method in SENDING:
                self._flood(int(self._json(params.get("chat_id", 0)) or 0))
            result = await fn(params)
        except ApiError as exc:
            body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
            return web.json_response(body, status=exc.code)
        return web.json_response({"ok": True, "result": result})

    async def _apply_faults(self, method: str) -> None:
        now = time.monotonic()
        for f in list(self.faults):
            if f.until is not None and now > f.until:
                self.faults.remove(f)
                continue
            if f.methods is not None and method not in f.methods:
                continue
            if f.until is None:
                f.count -= 1
                if f.count <= 0:
                    self.faults.remove(f)
            if f.kind == "429":
                raise ApiError(429, f"Too Many Requests: retry after {f.retry_after}", f.retry_after)
            if f.kind == "403":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if f.kind == "timeout":
                await asyncio.sleep(30)
            if f.kind in ("502", "down"):
                raise ApiError(502, "Bad Gateway")
            raise ApiError(500, "Internal Server Error")

    def _flood(self, chat_id: int) -> None:
        bucket = self.chat_buckets.setdefault(chat_id, Bucket(*self.chat_limits))
        wait = max(bucket.take(), self.global_bucket.take())
        if wait > 0:
            self.flood_hits += 1
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)

    # ---- helpers ----
    def _chat(self, params: dict[str, Any]) -> int:
        raw = params.get("chat_id")
        try:
            chat_id = int(self._json(raw))
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _find(self, chat_id: int, message_id: Any) -> Msg:
        try:
            mid = int(self._json(message_id))
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: message to edit not found") from None
        for m in self.messages.get(chat_id, []):
            if m.message_id == mid:
                return m
        raise ApiError(400, "Bad Request: message to edit not found")

    def _store(self, chat_id: int, **kw: Any) -> Msg:
        chat = self.messages.setdefault(chat_id, [])
        msg = Msg(message_id=(chat[-1].message_id + 1) if chat else 1, chat_id=chat_id, date=int(time.time()), **kw)
        chat.append(msg)
        if self.keep is not None and len(chat) > self.keep + self.keep // 8:  # trimmed in batches, not per message
            self._forget(chat_id, len(chat) - self.keep)
        self._tell("message", chat_id, msg)
        return msg

    def _forget(self, chat_id: int, n: int) -> None:
        """Drop the n oldest messages of a chat, the files no kept message shows, and old answers."""
        chat = self.messages[chat_id]
        old, chat[:n] = chat[:n], []
        gone = {f["file_id"] for m in old for f in (m.photo, m.document) if f is not None}
        kept = {f["file_id"] for c in self.messages.values() for m in c for f in (m.photo, m.document) if f is not None}
        for file_id in gone - kept:
            self.files.pop(file_id, None)
        answers = self.answers.get(chat_id, [])
        del answers[:max(0, len(answers) - len(chat))]
        for m in old:
            self._tell("deleted", chat_id, {"message_id": m.message_id})

    @staticmethod
    def entry(m: Msg) -> dict[str, Any]:
        """A message as the transcript (`/_sim/chats/<id>`) shows it."""
        return {"message_id": m.message_id, "from_bot": m.from_bot, "text": m.text, "reply_markup": m.reply_markup,
                "photo": m.photo, "document": m.document, "caption": m.caption, "edits": m.edits, "date": m.date,
                "silent": m.silent}

    def transcript(self, chat_id: int) -> dict[str, Any]:
        return {"messages": [self.entry(m) for m in self.messages.get(chat_id, [])],
                "callback_answers": self.answers.get(chat_id, [])}

    @staticmethod
    def _chat_obj(chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"user{chat_id}"}
        return {"id": chat_id, "type": "supergroup", "title": f"group{chat_id}"}

    def _wire(self, m: Msg) -> dict[str, Any]:
        out: dict[str, Any] = {"message_id": m.message_id, "date": m.date, "chat": self._chat_obj(m.chat_id),
                               "from": BOT_USER if m.from_bot else m.from_user}
        if m.text is not None:
            out["text"] = m.text
        if m.reply_markup and "inline_keyboard" in m.reply_markup:
            out["reply_markup"] = m.reply_markup
        if m.photo is not None:
            out["photo"] = [m.photo]
        if m.document is not None:
            out["document"] = m.document
        if m.caption is not None:
            out["caption"] = m.caption
        if m.edits:
            out["edit_date"] = m.date
        return out

    def _push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_id)
        self.updates.append({"update_id": update_id, **update})
        self._new_update.set()
        return update_id

    def _checked(self, params: dict[str, Any], key: str = "text", *, caption: bool = False) -> tuple[Any, Any]:
        text = params.get(key)
        parse_mode = params.get("parse_mode")
        err = check_text(text, parse_mode, caption=caption)
        if err:
            raise ApiError(400, err)
        markup = self._json(params.get("reply_markup")) or None
        err = check_markup(markup)
        if err:
            raise ApiError(400, err)
        return text, markup

    # ---- Bot API methods ----
    async def m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        return True

    async def m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self.updates)}

    async def m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(self._json(params.get("offset", 0)) or 0)
        timeout = float(self._json(params.get("timeout", 0)) or 0)
        limit = int(self._json(params.get("limit", 100)) or 100)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates and timeout > 0:
            self._new_update.clear()
            try:
                await within(self._new_update.wait(), timeout)
            except TimeoutError:
                pass
        return self.updates[:limit]

    async def m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(params)
        text, markup = self._checked(params)
        silent = str(self._json(params.get("disable_notification", False))).lower() == "true"
        msg = self._store(chat_id, from_bot=True, text=str(text), parse_mode=params.get("parse_mode"),
                          reply_markup=markup, silent=silent)
        return self._wire(msg)

    async def m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(params)
        msg = self._find(chat_id, params.get("message_id"))
        text, markup = self._checked(params)
        if msg.text == str(text) and (msg.reply_markup or None) == markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply"
                                " markup are exactly the same as a current content and reply markup of the message")
        msg.text, msg.reply_markup, msg.edits = str(text), markup, msg.edits + 1
        msg.parse_mode = params.get("parse_mode")
        self._tell("message", chat_id, msg)
        return self._wire(msg)

    async def m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(params)
        msg = self._find(chat_id, params.get("message_id"))
        markup = self._json(params.get("reply_markup")) or None
        err = check_markup(markup)
        if err:
            raise ApiError(400, err)
        if (msg.reply_markup or None) == markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply"
                                " markup are exactly the same as a current content and reply markup of the message")
        msg.reply_markup, msg.edits = markup, msg.edits + 1
        self._tell("message", chat_id, msg)
        return self._wire(msg)

    async def m_deleteMessage(self, params: dict[str, Any]) -> bool:
        chat_id = self._chat(params)
        msg = self._find(chat_id, params.get("message_id"))
        self.messages[chat_id].remove(msg)
        self._tell("deleted", chat_id, {"message_id": msg.message_id})
        return True

    async def m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        qid = str(params.get("callback_query_id"))
        if qid not in self.callbacks:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        chat_id = self.callbacks.pop(qid)
        answer = {"callback_query_id": qid, "text": params.get("text"),
                  "show_alert": str(self._json(params.get("show_alert", False))).lower() == "true"}
        self.answers.setdefault(chat_id, []).append(answer)
        self._tell("answer", chat_id, answer)
        return True

    async def _send_file(self, params: dict[str, Any], key: str) -> dict[str, Any]:
        chat_id = self._chat(params)
        caption, markup = self._checked(params, "caption", caption=True)
        upload = params.get(key)
        if not isinstance(upload, dict):
            raise ApiError(400, f"Bad Request: there is no {key} in the request")
        data: bytes = upload["data"]
        digest = hashlib.sha256(data).hexdigest()
        file_id = f"{key}-{digest[:16]}"
        self.files[file_id] = data
        info: dict[str, Any] = {"file_id": file_id, "file_unique_id": digest[:12], "file_size": len(data)}
        if key == "photo":
            w, h = _png_size(data)
            info.update(width=w, height=h)
        else:
            info.update(file_name=upload["filename"])
        msg = self._store(chat_id, from_bot=True, caption=caption, parse_mode=params.get("parse_mode"),
                          reply_markup=markup, **{key: info})
        return self._wire(msg)

    async def m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._send_file(params, "photo")

    async def m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._send_file(params, "document")

    async def m_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = self._json(params.get("commands"))
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands are invalid")
        for c in commands:
            if not (1 <= len(c.get("command", "")) <= 32 and 1 <= len(c.get("description", "")) <= 256):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands = commands
        self._tell("commands", 0, {"commands": commands})
        return True

    async def m_getMyCommands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands

    async def m_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        return True

    # ---- control API: act as the user, read what the user sees ----
    def user_send(self, user_id: int, text: str, chat_id: int | None = None) -> dict[str, Any]:
        """The user sends a text message (a command if it starts with /); the bot gets it as an update."""
        chat_id = user_id if chat_id is None else chat_id
        user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        msg = self._store(chat_id, from_bot=False, text=text, from_user=user)
        wire = self._wire(msg)
        if text.startswith("/"):
            length = len(text.split()[0]) if text.split() else 1
            wire["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
        update_id = self._push({"message": wire})
        return {"update_id": update_id, "message_id": msg.message_id}

    def user_press(self, user_id: int, message_id: int, data: str, chat_id: int | None = None) -> dict[str, Any]:
        """The user presses an inline button of a message; raises UserActionError if it has no such button."""
        chat_id = user_id if chat_id is None else chat_id
        try:
            msg = self._find(chat_id, message_id)
        except ApiError:
            raise UserActionError("no such message") from None
        buttons = [b for row in (msg.reply_markup or {}).get("inline_keyboard", []) for b in row]
        if not any(b.get("callback_data") == data for b in buttons):
            raise UserActionError("no button with that callback_data on the message")
        qid = str(next(self._update_id))
        self.callbacks[qid] = chat_id
        user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        self._push({"callback_query": {"id": qid, "from": user, "message": self._wire(msg),
                                       "chat_instance": str(chat_id), "data": data}})
        return {"callback_query_id": qid}

    async def sim_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id = int(body["user_id"])
        return web.json_response(self.user_send(user_id, str(body["text"]), int(body.get("chat_id", user_id))))

    async def sim_press(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id = int(body["user_id"])
        try:
            pressed = self.user_press(user_id, body["message_id"], str(body["data"]), int(body.get("chat_id", user_id)))
        except UserActionError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(pressed)

    async def sim_chat(self, request: web.Request) -> web.Response:
        return web.json_response(self.transcript(int(request.match_info["chat_id"])))

    async def sim_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        duration = body.get("duration_s")
        methods = body.get("methods")
        self.faults.append(Fault(
            kind=str(body["kind"]), count=int(body.get("count", 1)),
            until=time.monotonic() + float(duration) if duration is not None else None,
            retry_after=int(body.get("retry_after", 1)), methods=frozenset(methods) if methods else None,
        ))
        return web.json_response({"ok": True})

    async def sim_clear(self, request: web.Request) -> web.Response:
        """Every fault ends now (Telegram is back), as the venue emulators' `clear` does."""
        self.faults.clear()
        return web.json_response({"ok": True})

    async def sim_block(self, request: web.Request) -> web.Response:
        body = await request.json()
        (self.blocked.add if body.get("blocked", True) else self.blocked.discard)(int(body["chat_id"]))
        return web.json_response({"ok": True})

    async def sim_file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["file_id"])
        if data is None:
            return web.json_response({"error": "no such file"}, status=404)
        return web.Response(body=data, content_type="application/octet-stream")


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 0, 0
