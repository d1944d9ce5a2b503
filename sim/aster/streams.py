"""WebSocket streams: futures under /fstream/, spot under /sstream/ (ccxt tells them apart by `fstream`).

`/ws/<stream>` (raw payloads), `/ws/<listenKey>` (a user-data stream), `/stream?streams=a/b` and
`/stream` (combined: `{"stream", "data"}`). Live control: SUBSCRIBE / UNSUBSCRIBE (with or without
`id`), LIST_SUBSCRIPTIONS, SET_PROPERTY / GET_PROPERTY `combined`, and the docs' error answers. The
server pings every `ping_interval_s` (futures 5 min, spot 3 min) and drops a connection that has not
ponged for `pong_timeout_s` (15 / 10 min; an unsolicited pong counts); a connection lives 24 hours of
the emulator's clock; more than 10 (spot 5) incoming messages in a second closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)
DAY_MS = 86_400_000
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
UNKNOWN_METHOD = ("Invalid request: unknown variant `{}`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`,"
                  " `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 column 28")
SIDE_LIMITS = {"futures": (300.0, 900.0, 10, 200), "spot": (180.0, 600.0, 5, 1024)}  # ping, pong, msgs/s, streams


class Conn:
    def __init__(self, ws: web.WebSocketResponse, side: str, combined: bool, opened_ms: int):
        self.ws, self.side, self.combined, self.opened_ms = ws, side, combined, opened_ms
        self.subs: list[str] = []
        self.listen_key: str | None = None
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.last_pong = time.monotonic()
        self.last_ping = time.monotonic()
        self.second, self.msgs = 0, 0


class Hub:
    def __init__(self, clock: Callable[[], int], *, is_listen_key: Callable[[str, str], bool],
                 on_subscribe: Callable[[Conn, str], None], ping_interval_s: float | None = None,
                 pong_timeout_s: float | None = None):
        self.clock = clock
        self.is_listen_key, self.on_subscribe = is_listen_key, on_subscribe
        self.ping_interval_s, self.pong_timeout_s = ping_interval_s, pong_timeout_s
        self.conns: set[Conn] = set()
        self.silent = False

    # ---- connections ----
    def route(self, side: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self.handle(request, side)
        return handler

    async def handle(self, request: web.Request, side: str) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        kind, _, names = tail.partition("/")
        if kind not in ("ws", "stream"):
            raise web.HTTPNotFound()
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Conn(ws, side, kind == "stream", self.clock())
        if kind == "ws" and names and self.is_listen_key(side, names):
            conn.listen_key = names
        else:
            raw = names if kind == "ws" else request.query.get("streams", "")
            conn.subs = [s for s in raw.split("/") if s]
        self.conns.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        for s in conn.subs:
            self.on_subscribe(conn, s)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type is WSMsgType.PONG:
                    conn.last_pong = time.monotonic()
                elif msg.type is WSMsgType.TEXT:
                    if self._flooding(conn):
                        break
                    self._control(conn, msg.data)
                else:
                    break
        finally:
            self.conns.discard(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            if not ws.closed:
                await ws.close()
        return ws

    def _flooding(self, conn: Conn) -> bool:
        sec = int(time.monotonic())
        if sec != conn.second:
            conn.second, conn.msgs = sec, 0
        conn.msgs += 1
        return conn.msgs > SIDE_LIMITS[conn.side][2]

    async def _writer(self, conn: Conn) -> None:
        while True:
            text = await conn.queue.get()
            if conn.ws.closed:
                return
            try:
                await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def _reply(self, conn: Conn, body: dict[str, Any]) -> None:
        """An answer to a control message; errors are `{"code", "msg"}` (the docs' error table)."""
        conn.queue.put_nowait(json.dumps(body))

    # ---- live control ----
    def _control(self, conn: Conn, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            self._reply(conn, {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"})
            return
        if not isinstance(msg, dict) or "method" not in msg:
            self._reply(conn, {"code": 2, "msg": "Invalid request: missing field `method` at line 1 column 73"})
            return
        rid, method, params = msg.get("id"), msg.get("method"), msg.get("params", [])
        if rid is not None and (not isinstance(rid, int) or isinstance(rid, bool) or rid < 0):
            self._reply(conn, {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"})
            return
        if method not in METHODS:
            self._reply(conn, {"code": 2, "msg": UNKNOWN_METHOD.format(method)})
            return
        if not isinstance(params, list):
            self._reply(conn, {"code": 2, "msg": "Invalid request: too many parameters"})
            return
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = [str(p) for p in params]
            if method == "SUBSCRIBE":
                new = [n for n in names if n not in conn.subs]
                if len(conn.subs) + len(new) > SIDE_LIMITS[conn.side][3]:
                    self._reply(conn, {"code": 2, "msg": "Invalid request: too many parameters"})
                    return
                conn.subs.extend(new)
                self._reply(conn, {"result": None, "id": rid})
                for n in new:
                    self.on_subscribe(conn, n)
            else:
                conn.subs = [s for s in conn.subs if s not in names]
                self._reply(conn, {"result": None, "id": rid})
        elif method == "LIST_SUBSCRIPTIONS":
            self._reply(conn, {"result": list(conn.subs), "id": rid})
        elif method in ("SET_PROPERTY", "GET_PROPERTY") and params and not isinstance(params[0], str):
            self._reply(conn, {"code": 2, "msg": "Invalid request: property name must be a string"})
        elif method == "SET_PROPERTY":
            if len(params) != 2 or params[0] != "combined":
                self._reply(conn, {"code": 0, "msg": "Unknown property"})
            elif not isinstance(params[1], bool):
                self._reply(conn, {"code": 1, "msg": "Invalid value type: expected Boolean"})
            else:
                conn.combined = params[1]
                self._reply(conn, {"result": None, "id": rid})
        elif params[:1] == ["combined"]:
            self._reply(conn, {"result": conn.combined, "id": rid})
        else:
            self._reply(conn, {"code": 0, "msg": "Unknown property"})

    # ---- delivery ----
    def send(self, conn: Conn, stream: str, payload: dict[str, Any]) -> None:
        if self.silent:
            return  # a stalled feed: the socket stays up and answers pings, nothing else arrives
        body = {"stream": stream, "data": payload} if conn.combined else payload
        conn.queue.put_nowait(json.dumps(body))

    def wanted(self, side: str) -> set[str]:
        return {s for c in self.conns if c.side == side for s in c.subs}

    def publish(self, side: str, stream: str, payload: dict[str, Any]) -> None:
        for c in list(self.conns):
            if c.side == side and stream in c.subs:
                self.send(c, stream, payload)

    def to_key(self, listen_key: str, payload: dict[str, Any]) -> None:
        for c in list(self.conns):
            if c.listen_key == listen_key:
                self.send(c, listen_key, payload)

    async def close_all(self, key: str | None = None) -> None:
        for c in list(self.conns):
            if key is None or c.listen_key == key:
                await c.ws.close()

    # ---- time ----
    async def housekeeping(self) -> None:
        """Pings, pong timeouts and the 24-hour cut (by the emulator's clock)."""
        now, mono = self.clock(), time.monotonic()
        for c in list(self.conns):
            ping, pong = SIDE_LIMITS[c.side][:2]
            ping = self.ping_interval_s or ping
            pong = self.pong_timeout_s or pong
            try:
                if now - c.opened_ms >= DAY_MS or mono - c.last_pong > pong:
                    await c.ws.close()
                elif mono - c.last_ping >= ping:
                    c.last_ping = mono
                    await c.ws.ping()
            except (ConnectionError, RuntimeError):
                log.debug("connection gone while keeping it")
