"""The local chat page: the bot's own Telegram chat, served by an in-process Bot API emulator.

The bot does not know it is not on Telegram. Its PTB application polls a TelegramSim on a loopback
port with a token made at start; the page acts as one local user through the emulator's user side
(send a text, press a button) and reads the chat as a Telegram client would: the transcript for the
history (so it survives a reload), and every change (a new message, an edit, a callback answer, the
command menu) pushed live over server-sent events. The emulator's `/_sim/` control routes are not
served at all, and its Bot API answers only the bot's token.

Routes (every one behind bot/web/guard.py): `/` the page, `/chat.css`, `/chat.js`, `/api/history`,
`/api/events` (SSE), `POST /api/send {text}`, `POST /api/press {message_id, data}`, `/files/<id>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from bot.logsafe import register_secrets
from bot.web.guard import TOKEN_PARAM, Guard, is_loopback
from bot.web.render import Node, text_nodes
from sim.telegram import BOT_USER, Msg, TelegramSim, UserActionError

log = logging.getLogger(__name__)

WEB_USER_ID = 4_200_000_001  # the page's one user; a private chat's id is its user's id
KEEP_MESSAGES = 2000  # per chat, with their photos: a bot running for months stays bounded
QUEUE = 512  # events waiting for one slow page; past that it is told to re-read the history
KEEPALIVE_S = 15.0
REFUSALS_TOLD_S = 60.0
MAX_TEXT = 4096
ASSETS = {"/": ("index.html", "text/html"), "/chat.css": ("chat.css", "text/css"),
          "/chat.js": ("chat.js", "text/javascript")}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
                               " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store", "Cross-Origin-Resource-Policy": "same-origin",
}
_RESET = b"event: reset\ndata: {}\n\n"


class WebStartError(Exception):
    """The page cannot be served (the port is taken, the address is not this machine's)."""


def _buttons(markup: dict[str, Any] | None) -> list[list[dict[str, str]]] | None:
    rows = (markup or {}).get("inline_keyboard")
    if not rows:
        return None
    out = []
    for row in rows:
        keys = []
        for b in row:
            key = {"text": str(b.get("text", ""))}
            if b.get("callback_data") is not None:
                key["data"] = str(b["callback_data"])
            elif b.get("url"):
                key["url"] = str(b["url"])
            keys.append(key)
        out.append(keys)
    return out


def _keyboard(markup: dict[str, Any] | None) -> list[list[str]] | str | None:
    """A reply keyboard's rows of texts, "remove" for ReplyKeyboardRemove, None when it sets neither."""
    if not markup:
        return None
    if markup.get("remove_keyboard"):
        return "remove"
    rows = markup.get("keyboard")
    if not rows:
        return None
    return [[str(k.get("text", "")) if isinstance(k, dict) else str(k) for k in row] for row in rows]


def message_view(m: Msg) -> dict[str, Any]:
    """A message as the page draws it: text as safe nodes (bot/web/render.py), never as HTML."""
    body: list[Node] | None = text_nodes(m.text, m.parse_mode if m.from_bot else None)
    view: dict[str, Any] = {"id": m.message_id, "out": not m.from_bot, "date": m.date, "edited": m.edits > 0,
                            "body": body, "caption": text_nodes(m.caption, m.parse_mode if m.from_bot else None),
                            "buttons": _buttons(m.reply_markup), "keyboard": _keyboard(m.reply_markup)}
    if m.photo is not None:
        view["photo"] = {"src": f"/files/{m.photo['file_id']}", "w": m.photo.get("width"), "h": m.photo.get("height")}
    if m.document is not None:
        view["document"] = {"src": f"/files/{m.document['file_id']}", "name": m.document.get("file_name", "file")}
    return view


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve on host:port (0: any free port); the runner and the port. No access log: the page's first
    request carries its token, and the bot's long polls would fill the log."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    server = site._server
    assert isinstance(server, asyncio.Server) and server.sockets
    return runner, int(server.sockets[0].getsockname()[1])


def _event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class WebChat:
    """The emulator the bot is pointed at, and the page in front of it. Constructing does no I/O."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, password: str | None = None, *,
                 any_port_if_taken: bool = False):
        """`any_port_if_taken`: the port is only a default (not set in the config), so another bot or
        program holding it does not stop this one: it takes a free port and says so."""
        self.host, self.port, self.password = host, port, password or None
        self.any_port_if_taken = any_port_if_taken
        self.wanted_port: int | None = None  # the port asked for, when another was taken instead
        self.user_id = WEB_USER_ID
        self.bot_token = f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(32)}"
        self.page_token = secrets.token_urlsafe(24)
        register_secrets(self.bot_token, self.page_token, self.password)
        # Telegram's flood limits protect Telegram; here they would only slow the trader's own screen
        self.sim = TelegramSim(token=self.bot_token, keep=KEEP_MESSAGES, chat_capacity=60, chat_rate=20.0,
                               global_rate=100.0)
        self._clients: set[asyncio.Queue[bytes | None]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._api: web.AppRunner | None = None
        self._page: web.AppRunner | None = None
        self.bot_api_base = ""
        self.guard: Guard | None = None
        self._assets: dict[str, bytes] = {}
        self._refusals_told: dict[str, float] = {}  # one entry per kind of refusal: bounded

    # ---- start / stop ----
    async def start(self) -> None:
        self._assets = {path: resources.files("bot.web").joinpath("static", name).read_bytes()
                        for path, (name, _) in ASSETS.items()}
        self._api, api_port = await _serve(self.sim.app(control=False), "127.0.0.1", 0)  # loopback only
        self.bot_api_base = f"http://127.0.0.1:{api_port}"
        try:
            try:
                self._page, self.port = await _serve(self._app(), self.host, self.port)  # port 0: the one it got
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or not self.any_port_if_taken or self.port == 0:
                    raise
                self.wanted_port = self.port
                self._page, self.port = await _serve(self._app(), self.host, 0)
        except OSError as exc:
            await self._api.cleanup()
            self._api = None
            why = "the port is in use" if exc.errno == errno.EADDRINUSE else str(exc.strerror or exc)
            raise WebStartError(f"the chat page cannot listen on {self.host}:{self.port}: {why} (set web.port to a"
                                " free port, or 0 for any)") from None
        self.guard = Guard(self.page_token, self.port, self.host, self.password)
        self._unsubscribe = self.sim.subscribe(self._on_change)

    @property
    def bot_api_url(self) -> str:
        """The `telegram.base_url` the bot is pointed at."""
        return f"{self.bot_api_base}/bot"

    @property
    def url(self) -> str:
        """The address to open, token included."""
        shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # every address
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}/?{TOKEN_PARAM}={self.page_token}"

    def notices(self) -> list[str]:
        """What the trader is told at start, on the console (the token is in the URL: never in the log)."""
        lines = [f"Chat page: {self.url}", "  open it in a browser; the link works until the bot stops"]
        if self.wanted_port is not None:
            lines.append(f"  port {self.wanted_port} is in use (another bot?), so the page took port {self.port};"
                         " set web.port to choose one")
        if not is_loopback(self.host):
            lines.append(f"  warning: the page listens on {self.host}, not only on this machine: whoever reaches"
                         f" port {self.port} with this link and web.password can trade. It is plain HTTP: use it"
                         " only on a network you trust, or put TLS in front of it.")
            if self.host in ("0.0.0.0", "::"):
                lines.append("  from another machine, put this machine's address in the link instead of"
                             f" {'127.0.0.1' if self.host == '0.0.0.0' else '[::1]'}")
        return lines

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for q in list(self._clients):
            self._close(q)
        self.sim.wake()  # a long poll still open must not hold the emulator's shutdown
        for runner in (self._page, self._api):
            if runner is not None:
                await runner.cleanup()
        self._page = self._api = None

    # ---- the app ----
    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guarded], client_max_size=64 * 1024)
        for path in ASSETS:
            app.router.add_get(path, self.asset)
        app.router.add_get("/api/history", self.history)
        app.router.add_get("/api/events", self.events)
        app.router.add_post("/api/send", self.send)
        app.router.add_post("/api/press", self.press)
        app.router.add_get("/files/{file_id}", self.file)
        return app

    @web.middleware
    async def _guarded(self, request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        assert self.guard is not None
        refused = self.guard.check(request)
        if refused is not None:
            now = time.monotonic()
            if now - self._refusals_told.get(refused.reason, -REFUSALS_TOLD_S) >= REFUSALS_TOLD_S:
                self._refusals_told[refused.reason] = now  # a stranger hammering the page cannot flood the log
                log.warning("chat page refused %s %s from %s: %s (the same refusal is logged once a minute)",
                            request.method, request.path, request.remote, refused.reason)
            return web.Response(status=refused.status, text=f"tradebot: {refused.reason}\n",
                                headers={**HEADERS, **dict(refused.headers)})
        if TOKEN_PARAM in request.query and request.method == "GET" and request.path == "/":
            # the first load: the token moves into a cookie and out of the address bar and the history
            resp: web.StreamResponse = web.Response(status=303, headers={**HEADERS, "Location": "/"})
            resp.set_cookie(self.guard.cookie, self.page_token, httponly=True, samesite="Strict", path="/")
            return resp
        try:
            resp = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(HEADERS)
            raise
        for k, v in HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    async def asset(self, request: web.Request) -> web.Response:
        kind = ASSETS[request.path][1]
        return web.Response(body=self._assets[request.path], content_type=kind, charset="utf-8")

    def _chat(self) -> list[Msg]:
        return self.sim.messages.get(self.user_id, [])

    def keyboard(self) -> list[list[str]] | None:
        """The reply keyboard now shown: the last one the bot sent, unless removed since."""
        for m in reversed(self._chat()):
            if m.from_bot:
                k = _keyboard(m.reply_markup)
                if isinstance(k, list):
                    return k
                if k == "remove":
                    return None
        return None

    async def history(self, request: web.Request) -> web.Response:
        return web.json_response({
            "bot": {"name": BOT_USER["first_name"], "username": BOT_USER["username"]},
            "messages": [message_view(m) for m in self._chat()], "keyboard": self.keyboard(),
            "commands": self.sim.commands,
        })

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":  # a cross-site form cannot send JSON without asking
            raise web.HTTPUnsupportedMediaType(text="send JSON")
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="invalid JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="send a JSON object")
        return body

    async def send(self, request: web.Request) -> web.Response:
        text = (await self._body(request)).get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise web.HTTPBadRequest(text=f"text must be 1 to {MAX_TEXT} characters")
        return web.json_response(self.sim.user_send(self.user_id, text))

    async def press(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        message_id, data = body.get("message_id"), body.get("data")
        if not isinstance(message_id, int) or not isinstance(data, str):
            raise web.HTTPBadRequest(text="message_id (a number) and data (a string) are required")
        try:
            return web.json_response(self.sim.user_press(self.user_id, message_id, data))
        except UserActionError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None

    async def file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        shown = any(f is not None and f["file_id"] == file_id for m in self._chat() for f in (m.photo, m.document))
        data = self.sim.files.get(file_id) if shown else None
        if data is None:
            raise web.HTTPNotFound(text="no such file")
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return web.Response(body=data, content_type="image/png")
        return web.Response(body=data, content_type="application/octet-stream",
                            headers={"Content-Disposition": "attachment"})

    # ---- live: server-sent events ----
    def _on_change(self, event: str, chat_id: int, payload: Any) -> None:
        if chat_id not in (0, self.user_id):
            return
        if event == "message":
            item = _event("message", message_view(payload))
        elif event == "deleted":
            item = _event("deleted", {"id": payload["message_id"]})
        elif event == "answer":
            item = _event("answer", {"text": payload.get("text"), "show_alert": payload.get("show_alert", False)})
        elif event == "commands":
            item = _event("commands", payload["commands"])
        else:
            return
        for q in list(self._clients):
            try:
                q.put_nowait(item)
            except asyncio.QueueFull:  # a page that stopped reading: it re-reads the history when it can
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(_RESET)

    def _close(self, q: asyncio.Queue[bytes | None]) -> None:
        self._clients.discard(q)
        while not q.empty():
            q.get_nowait()
        q.put_nowait(None)

    async def events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={**HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        q: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE)
        self._clients.add(q)
        try:
            await resp.write(b"retry: 1000\n\n")
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        item = await q.get()
                except TimeoutError:
                    item = b": keep-alive\n\n"
                if item is None:
                    break
                await resp.write(item)
        except (ConnectionResetError, ConnectionError):
            pass  # the page went away
        finally:
            self._clients.discard(q)
        with contextlib.suppress(ConnectionError):
            await resp.write_eof()
        return resp


__all__ = ["WEB_USER_ID", "WebChat", "WebStartError", "message_view"]
