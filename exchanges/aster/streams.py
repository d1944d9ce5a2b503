"""Aster's four connections: market streams (futures, spot) for quotes and marks, and user-data
streams (futures, spot) on listenKeys.

A listenKey lives 60 minutes unless kept alive: a PUT every `keepalive_s` (30 minutes) keeps it; an
answer -1125 or a `listenKeyExpired` event gets a new key and a new connection. The venue cuts every
connection after 24 hours: each user stream is renewed before (`max_connection_s`). The account
counts as streamed only while both user streams are up; when either drops, the event feed hears
"down" once and, when both are back, backfills fills and orders over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from exchanges.aster.errors import UNKNOWN_LISTEN_KEY
from exchanges.aster.stream import MARKET_STREAMS, MarketFrames, UserFrames, quote_rows, stream_base
from exchanges.common.ws import WsClient
from exchanges.errors import ExchangeError
from exchanges.models import Market, MarketKind

if TYPE_CHECKING:
    from exchanges.aster.adapter import AsterExchange

log = logging.getLogger(__name__)
SIDES = ("futures", "spot")
TIME_SYNC_S = 600.0
Quote = tuple[Decimal | None, Decimal | None, Decimal | None, int]  # bid, ask, mark, when (ms)


class Streams:
    def __init__(self, ex: AsterExchange, ws_url: str, spot_ws_url: str, *, stall_s: float, ping_s: float,
                 keepalive_s: float, max_connection_s: float):
        self.ex = ex
        self.keepalive_s, self.max_connection_s = keepalive_s, max_connection_s
        bases = {"futures": stream_base(ws_url), "spot": stream_base(spot_ws_url)}
        self.bases = bases
        self.market = {side: WsClient(f"{bases[side]}/stream", [{"stream": s} for s in MARKET_STREAMS],
                                      MarketFrames(), self._market_message(side), self._market_state(side),
                                      ping_s=ping_s, stall_s=stall_s) for side in SIDES}
        self.user = {side: WsClient(f"{bases[side]}/ws/-", [], UserFrames(), self._user_message(side),
                                    self._user_state(side), ping_s=ping_s, stall_s=stall_s) for side in SIDES}
        self.keys: dict[str, str] = {}
        self.opened: dict[str, float] = {}  # side -> when its user stream came up (monotonic)
        self._up: dict[str, bool] = {side: False for side in SIDES}
        self._told_down = False
        self.quotes: dict[tuple[str, str], dict[str, Any]] = {}  # (side, native) -> bid, ask, mark, ms
        self._task: asyncio.Task[None] | None = None

    def _path(self, side: str) -> str:
        return f"{self.ex.f}/listenKey" if side == "futures" else f"{self.ex.s}/listenKey"

    async def _new_key(self, side: str) -> str:
        answer = await self.ex.http.user_stream("POST", self._path(side))
        key = str(answer["listenKey"])
        self.keys[side] = key
        self.user[side].url = f"{self.bases[side]}/ws/{key}"
        return key

    async def start(self) -> bool:
        if self._task is not None:
            return False
        await asyncio.gather(*(self._new_key(side) for side in SIDES))
        for side in SIDES:
            self.market[side].start(name=f"aster-{side}-market")
            self.user[side].start(name=f"aster-{side}-user")
        await asyncio.gather(*(self.user[side].wait_connected(10) for side in SIDES))
        self._task = asyncio.get_running_loop().create_task(self._keep(), name="aster-listen-keys")
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for c in (*self.market.values(), *self.user.values()):
            await c.close()

    # ---- the account's streams ----
    def user_live(self) -> bool:
        return all(self.user[side].connected.is_set() for side in SIDES)

    def user_quiet(self, seconds: float) -> bool:
        now = time.monotonic()
        return all(now - self.user[side].last_data >= seconds for side in SIDES)

    async def restart_user(self, reason: str) -> None:
        for side in SIDES:
            await self.user[side].restart(reason)

    async def _renew(self, side: str, reason: str) -> None:
        """A new listenKey and a new connection on it (the old key expired or is no longer known)."""
        try:
            await self._new_key(side)
        except ExchangeError as exc:
            log.warning("aster: no new listenKey for the %s stream (%s); retrying at the next keep-alive", side, exc)
            return
        await self.user[side].restart(reason)

    async def _keep(self) -> None:
        last_put = last_sync = time.monotonic()
        while True:
            await asyncio.sleep(min(5.0, self.keepalive_s))
            now = time.monotonic()
            if now - last_sync >= TIME_SYNC_S:  # clocks drift: the venue's is measured again
                last_sync = now
                try:
                    await self.ex.sync_time()
                except ExchangeError as exc:
                    log.info("aster: the venue's clock was not measured again: %s", exc)
            for side in SIDES:
                opened = self.opened.get(side)
                if opened is not None and now - opened >= self.max_connection_s:
                    self.opened.pop(side, None)
                    await self._renew(side, "renewed before the venue's 24-hour cut")
            if now - last_put < self.keepalive_s:
                continue
            last_put = now
            for side in SIDES:
                try:
                    await self.ex.http.user_stream("PUT", self._path(side))
                except ExchangeError as exc:
                    if exc.code == str(UNKNOWN_LISTEN_KEY):
                        await self._renew(side, "listenKey no longer known (-1125)")
                    else:
                        log.warning("aster: keep-alive of the %s listenKey failed: %s", side, exc)

    def _user_message(self, side: str) -> Any:
        async def on(channel: str, data: Any) -> None:
            if channel == "listenKeyExpired":
                await self._renew(side, "listenKey expired")
                return
            self.ex.on_user_event(data, spot=side == "spot")

        return on

    def _user_state(self, side: str) -> Any:
        async def on(up: bool, reason: str) -> None:
            self._up[side] = up
            if up:
                self.opened[side] = time.monotonic()
            else:
                self.opened.pop(side, None)
            if not up and not self._told_down:
                self._told_down = True
                await self.ex.feed.on_state(False, f"{side} user stream: {reason}")
            elif up and all(self._up.values()):
                self._told_down = False
                await self.ex.feed.on_state(True, reason)

        return on

    # ---- quotes ----
    def _market_message(self, side: str) -> Any:
        async def on(channel: str, data: Any) -> None:
            now = self.ex.clock()
            for native, bid, ask, mark in quote_rows(data):
                q = self.quotes.setdefault((side, native), {})
                if bid is not None and ask is not None:
                    q["bid"], q["ask"], q["book_ms"] = bid, ask, now
                if mark is not None:
                    q["mark"], q["mark_ms"] = mark, now

        return on

    def _market_state(self, side: str) -> Any:
        async def on(up: bool, reason: str) -> None:
            if not up:
                for key in [k for k in self.quotes if k[0] == side]:
                    del self.quotes[key]

        return on

    def quote(self, m: Market, trust_ms: int) -> Quote | None:
        """The streamed quote of `m` when every part of it is fresh (spot: its mark is the mid)."""
        side = "futures" if m.kind is MarketKind.PERP else "spot"
        q = self.quotes.get((side, m.native))
        if q is None or not self.market[side].connected.is_set():
            return None
        now = self.ex.clock()
        if "bid" not in q or now - q["book_ms"] > trust_ms:
            return None
        bid, ask = q["bid"], q["ask"]
        if m.kind is MarketKind.SPOT:
            return (bid if bid > 0 else None, ask if ask > 0 else None, (bid + ask) / 2 if bid > 0 and ask > 0
                    else None, q["book_ms"])
        if "mark" not in q or now - q["mark_ms"] > trust_ms:
            return None
        return bid if bid > 0 else None, ask if ask > 0 else None, q["mark"], min(q["book_ms"], q["mark_ms"])
