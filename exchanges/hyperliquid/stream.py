"""WebSocket transport only: connect, subscribe, ping, detect stalls, reconnect with backoff.

Messages are handed to `on_message(channel, data)`; connection changes to `on_state(up, reason)`.
A stall is no data for `stall_s` while subscribed: pongs keep the socket up but do not count, so a
feed that goes silent while still answering pings is caught and reconnected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from exchanges.aio import within

log = logging.getLogger(__name__)
OnMessage = Callable[[str, Any], Awaitable[None]]
OnState = Callable[[bool, str], Awaitable[None]]


class StreamClient:
    def __init__(self, url: str, subscriptions: list[dict[str, Any]], on_message: OnMessage, on_state: OnState,
                 *, ping_s: float = 50.0, stall_s: float = 60.0, max_backoff_s: float = 30.0):
        self.url = url
        self.subscriptions = subscriptions
        self.on_message, self.on_state = on_message, on_state
        self.ping_s, self.stall_s, self.max_backoff_s = ping_s, stall_s, max_backoff_s
        self.connected = asyncio.Event()
        self.last_data = 0.0  # monotonic time of the last data message
        self.reconnects = 0
        self._ws: Any = None
        self._stop = False

    async def run(self) -> None:
        backoff = 0.25
        while not self._stop:
            reason = "closed"
            try:
                async with websockets.connect(self.url, ping_interval=None, max_size=2**24,
                                              open_timeout=10) as ws:
                    self._ws = ws
                    for sub in self.subscriptions:
                        await ws.send(json.dumps({"method": "subscribe", "subscription": sub}))
                    self.last_data = time.monotonic()
                    self.connected.set()
                    await self.on_state(True, "connected" if not self.reconnects else "reconnected")
                    backoff = 0.25
                    reason = await self._read(ws)
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake, InvalidURI) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
            if self.connected.is_set():
                self.connected.clear()
                await self.on_state(False, reason)
            if self._stop:
                return
            self.reconnects += 1
            delay = backoff * (1 + random.random() / 4)
            log.info("stream %s down (%s); reconnecting in %.2fs", self.url, reason, delay)
            await asyncio.sleep(delay)
            backoff = min(backoff * 2, self.max_backoff_s)

    async def _read(self, ws: Any) -> str:
        next_ping = time.monotonic() + self.ping_s
        while True:
            now = time.monotonic()
            if now - self.last_data > self.stall_s:
                return f"stalled: no data for {self.stall_s:.0f}s"
            if now >= next_ping:
                await ws.send('{"method":"ping"}')
                next_ping = now + self.ping_s
            timeout = max(0.01, min(next_ping, self.last_data + self.stall_s) - now)
            try:
                raw = await within(ws.recv(), timeout)
            except TimeoutError:
                continue
            try:
                msg = json.loads(raw)
            except ValueError:
                continue  # "Websocket connection established." and other plain text
            if not isinstance(msg, dict):
                continue
            channel = msg.get("channel")
            if channel in ("pong", "subscriptionResponse"):
                continue
            self.last_data = time.monotonic()
            try:
                await self.on_message(str(channel), msg.get("data"))
            except Exception:  # a message we cannot handle must not take the stream down
                log.exception("failed to handle %s message", channel)

    async def subscribe(self, sub: dict[str, Any]) -> None:
        """Add a subscription now (if connected) and after every reconnect."""
        if sub in self.subscriptions:
            return
        self.subscriptions.append(sub)
        if self._ws is not None:
            await self._ws.send(json.dumps({"method": "subscribe", "subscription": sub}))

    async def close(self) -> None:
        self._stop = True
        if self._ws is not None:
            await self._ws.close()
