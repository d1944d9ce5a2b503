"""WebSocket transport only: connect, subscribe, ping, detect stalls, reconnect with jittered backoff.

The venue gives its frames as a small protocol (`WsProtocol`: the subscribe frame, the ping frame,
and `route`, which names a message's channel or says it is control traffic such as a pong).
Messages are handed to `on_message(channel, data)`; connection changes to `on_state(up, reason)`.
The stream counts as up only once data arrives after subscribing (the venue sends every
subscription's snapshot at once): a socket that connects and then says nothing is not "connected".
A stall is no data for `stall_s` while subscribed: pongs keep the socket up but do not count, so a
feed that goes silent while still answering pings is caught and reconnected. The adapter's probes
can also call `restart()` when a quiet feed turns out to be behind the venue. The time of the last
message of each channel is kept, so a reader can tell a live subscription from a quiet socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from exchanges.aio import within

log = logging.getLogger(__name__)


class WsProtocol(Protocol):
    ping_frame: str | None  # None: WebSocket ping frames, whose pongs show the socket is alive
    quiet_ok: bool  # a stream that may say nothing for long (a user-data stream): up once open; a
    # stall is a missing pong, and the adapter's REST probes catch a socket that pongs but says nothing

    def subscribe_frame(self, sub: dict[str, Any]) -> str: ...

    def route(self, msg: Any) -> tuple[str, Any] | None:
        """(channel, data) of a decoded message, or None for control traffic (pong, acks)."""
        ...


def backoff_delay(backoff: float, rng: Callable[[], float] = random.random) -> float:
    """The wait before a reconnect: the backoff plus up to a quarter more, so many clients that lost
    the venue at once do not all come back in the same instant."""
    return backoff * (1 + rng() / 4)


OnMessage = Callable[[str, Any], Awaitable[None]]
OnState = Callable[[bool, str], Awaitable[None]]


class WsClient:
    def __init__(self, url: str, subscriptions: list[dict[str, Any]], protocol: WsProtocol, on_message: OnMessage,
                 on_state: OnState, *, ping_s: float = 50.0, stall_s: float = 60.0, max_backoff_s: float = 30.0,
                 first_data_s: float = 10.0):
        self.url = url
        self.protocol = protocol
        self.subscriptions = subscriptions
        self.on_message, self.on_state = on_message, on_state
        self.ping_s, self.stall_s, self.max_backoff_s = ping_s, stall_s, max_backoff_s
        self.first_data_s = first_data_s
        self.connected = asyncio.Event()  # data is flowing (not merely a TCP connection)
        self.last_data = 0.0  # monotonic time of the last data message
        self.last_by_channel: dict[str, float] = {}  # channel -> monotonic time of its last message
        self.reconnects = 0
        self.state = "connecting"  # connecting | subscribed, waiting for data | up | down: <why>
        self._ws: Any = None
        self._stop = False
        self._restart_reason: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        backoff = 0.25
        while not self._stop:
            reason = "closed"
            try:
                async with websockets.connect(self.url, ping_interval=None, max_size=2**24,
                                              open_timeout=10) as ws:
                    self._ws = ws
                    self._restart_reason = None
                    for sub in self.subscriptions:
                        await ws.send(self.protocol.subscribe_frame(sub))
                    self.state = "subscribed, waiting for data"
                    if self.protocol.quiet_ok:
                        await self._up()
                    reason = await self._read(ws)
                    if self.connected.is_set():
                        backoff = 0.25  # it delivered: the next reconnect starts fast again
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake, InvalidURI) as exc:
                reason = self._restart_reason or f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
            self.state = f"down: {reason}"
            if self.connected.is_set():
                self.connected.clear()
                self.last_by_channel.clear()
                await self.on_state(False, reason)
            if self._stop:
                return
            self.reconnects += 1
            delay = backoff_delay(backoff)
            log.info("stream %s down (%s); reconnecting in %.2fs", self.url, reason, delay)
            await asyncio.sleep(delay)
            backoff = min(backoff * 2, self.max_backoff_s)

    async def _up(self) -> None:
        self.connected.set()
        self.state = "up"
        await self.on_state(True, "connected" if not self.reconnects else "reconnected")

    async def _read(self, ws: Any) -> str:
        opened = time.monotonic()
        next_ping = opened + self.ping_s
        quiet_ok = self.protocol.quiet_ok
        pong: Any = None  # the pong awaited for our last ping frame, and when that ping went
        pong_sent = 0.0
        while True:
            now = time.monotonic()
            if self._restart_reason is not None:
                return self._restart_reason
            if quiet_ok:
                if pong is not None and not pong.done() and now - pong_sent > self.stall_s:
                    return f"stalled: no pong for {self.stall_s:g}s"
            elif not self.connected.is_set() and now - opened > self.first_data_s:
                return f"stalled: subscribed, but no data for {self.first_data_s:g}s"
            elif self.connected.is_set() and now - self.last_data > self.stall_s:
                return f"stalled: no data for {self.stall_s:g}s"
            if now >= next_ping:
                if self.protocol.ping_frame is not None:
                    await ws.send(self.protocol.ping_frame)
                elif pong is None or pong.done():
                    pong, pong_sent = await ws.ping(), now
                next_ping = now + self.ping_s
            if quiet_ok:
                limit = now + self.stall_s
            else:
                limit = self.last_data + self.stall_s if self.connected.is_set() else opened + self.first_data_s
            try:
                raw = await within(ws.recv(), max(0.01, min(next_ping, limit) - now))
            except TimeoutError:
                continue
            try:
                msg = json.loads(raw)
            except ValueError:
                continue  # "Websocket connection established." and other plain text
            routed = self.protocol.route(msg)
            if routed is None:
                continue
            channel, data = routed
            self.last_data = self.last_by_channel[channel] = time.monotonic()
            if not self.connected.is_set():
                await self._up()
            try:
                await self.on_message(channel, data)
            except Exception:  # a message we cannot handle must not take the stream down
                log.exception("failed to handle %s message", channel)

    def quiet_s(self, channel: str) -> float | None:
        """Seconds since the channel's last message on this connection (None: none yet)."""
        last = self.last_by_channel.get(channel)
        return None if last is None else time.monotonic() - last

    async def restart(self, reason: str) -> None:
        """Drop the connection (a probe found the feed behind the venue); run() reconnects and the
        adapter backfills what was missed."""
        if self._ws is None or self._restart_reason is not None:
            return
        self._restart_reason = reason
        log.warning("stream %s: %s; reconnecting", self.url, reason)
        await self._ws.close()

    async def subscribe(self, sub: dict[str, Any]) -> None:
        """Add a subscription now (if connected) and after every reconnect."""
        if sub in self.subscriptions:
            return
        self.subscriptions.append(sub)
        if self._ws is not None:
            await self._ws.send(self.protocol.subscribe_frame(sub))

    def start(self, name: str = "ws") -> bool:
        """Run in the background (once; the task is kept and awaited by close). False: already running."""
        if self._task is not None:
            return False
        self._task = asyncio.get_running_loop().create_task(self.run(), name=name)
        return True

    async def wait_connected(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await within(self.connected.wait(), timeout_s)
        return self.connected.is_set()

    async def close(self) -> None:
        self._stop = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
