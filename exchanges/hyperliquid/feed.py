"""What the venue's stream says, turned into the bot's events (a part of HyperliquidExchange).

Fills are emitted once (snapshots that replay history are marked, so they are not told as new);
order updates are passed on and the orders known to be open are tracked; the account-state feeds go
to the reads; after a gap, fills, open orders and the final state of orders that closed meanwhile
are fetched over REST, so nothing is missed.

A quiet feed is not trusted on its word: every `probe_s` the prices and account feeds that have
said nothing for that long are checked against the venue over REST (weight 2 each). A probe that
agrees keeps the pushed state trusted; one that finds the venue ahead of the feed (a fill, a
position, a price the stream never told) restarts the stream, whose backfill then fetches the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from exchanges.errors import ExchangeError, OrderNotFoundError
from exchanges.hyperliquid import parse
from exchanges.hyperliquid.http import HyperliquidHttp
from exchanges.hyperliquid.reads import PUSHED, Reads, orders_reported
from exchanges.hyperliquid.stream import StreamClient
from exchanges.models import (
    Event,
    Fill,
    FillEvent,
    FundingEvent,
    FundingPayment,
    Market,
    Order,
    OrderBook,
    OrderStatus,
    OrderUpdate,
    StreamStatus,
)

log = logging.getLogger(__name__)
VENUE = parse.VENUE


def _positions(state: Any) -> tuple[Any, ...]:
    ps = sorted((p["position"]["coin"], Decimal(p["position"]["szi"])) for p in state.get("assetPositions", []))
    return (tuple(ps), Decimal(state.get("crossMarginSummary", state.get("marginSummary", {})).get("totalRawUsd",
                                                                                                  "0")))


def _spot(state: Any) -> tuple[Any, ...]:
    return tuple(sorted((b["coin"], Decimal(b["total"])) for b in state.get("balances", [])))


# what a probe compares: what only trading, funding or transfers change (not marks, which move on their own)
_SAME = {"clearinghouseState": lambda a, b: _positions(a) == _positions(b),
         "spotClearinghouseState": lambda a, b: _spot(a) == _spot(b)}


class StreamFeed:
    clock: Callable[[], int]
    reads: Reads
    _stream: StreamClient
    _queue: asyncio.Queue[Event]
    _by_coin: dict[str, Market]
    _books: dict[str, dict[str, Any] | OrderBook]
    _mids: dict[str, Decimal]
    _mids_ms: int
    _last_fill_ms: int
    _seen_fills: set[str]
    _was_down: bool
    _open_seen: dict[str, str]
    probe_s: float
    down_poll_s: float
    _tasks: set[asyncio.Task[None]]
    http: HyperliquidHttp
    user: str

    if TYPE_CHECKING:
        async def fills(self, since_ms: int) -> list[Fill]: ...
        async def open_orders(self) -> list[Order]: ...
        async def order_status(self, symbol: str, *, order_id: str | None = None,
                               client_id: str | None = None) -> Order: ...

    # ---- stream ----
    async def _on_state(self, up: bool, reason: str) -> None:
        self._queue.put_nowait(StreamStatus(VENUE, up, self.clock(), reason))
        if not up:
            self.reads.stream_lost()
            self._mids, self._books = {}, {}  # the snapshots after resubscribing replace them
            self._was_down = True
        elif self._was_down:
            self._was_down = False
            self._keep(self._backfill())

    def _keep(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- probes of quiet feeds ----
    async def _probe_loop(self) -> None:
        """Probes while the stream is up; while it is down (or never came up), fills are fetched over
        REST every down_poll_s, so a fill is stored and told without waiting for the stream."""
        last_poll = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.probe_s / 2)
            if not self._stream.connected.is_set():
                if loop.time() - last_poll >= self.down_poll_s:
                    last_poll = loop.time()
                    try:
                        await self._fills_since_last()
                    except ExchangeError as exc:
                        log.info("fills over REST while the stream is down: %s", exc)
                continue
            try:
                behind = await self.probe_once()
            except ExchangeError as exc:  # the venue cannot be asked now: the pushes just stay untrusted
                log.info("probe of the quiet stream failed: %s", exc)
                continue
            if behind:
                await self._stream.restart(f"stalled: the {behind} feed fell behind the venue")

    async def probe_once(self) -> str | None:
        """Check every feed quiet for probe_s against REST. Returns the first feed found behind."""
        quiet_ms = int(self.probe_s * 1000)
        for feed, (key, _) in (("clearinghouseState", PUSHED["clearinghouseState"]),
                               ("spotState", PUSHED["spotState"])):
            quiet = self.reads.quiet_ms(key)
            if quiet is not None and quiet >= quiet_ms:
                if await self.reads.probe(key, {"type": key, "user": self.user}, _SAME[key]) is False:
                    return feed
        silent = self._stream.quiet_s("allMids")
        if self._mids and (silent is None or silent * 1000 >= quiet_ms) and self.clock() - self._mids_ms >= quiet_ms:
            asked = self.clock()
            raw = await self.http.info({"type": "allMids"})
            if self._mids_ms > asked:
                return None  # a push arrived while we asked
            mids = parse.parse_mids(raw, self._by_coin)
            if mids != self._mids:
                self._mids, self._mids_ms = mids, self.clock()
                return "allMids"
            self._mids_ms = self.clock()
        return None

    async def _on_message(self, channel: str, data: Any) -> None:
        if channel in PUSHED:
            self.reads.pushed(channel, data)
            return
        if channel in ("userFills", "user", "userFundings"):
            self.reads.changed()
        if channel == "l2Book":
            m = self._by_coin.get(data.get("coin"))
            if m is not None:
                self._books[m.native] = data
            return
        if channel == "allMids":
            self._mids, self._mids_ms = parse.parse_mids(data["mids"], self._by_coin), self.clock()
        elif channel == "orderUpdates":
            self.reads.order_updates(orders_reported(data))
            for u in data:
                order = parse.parse_order(u["order"], self._by_coin, VENUE, u["status"], u.get("statusTimestamp"))
                self._track(order)
                self._queue.put_nowait(OrderUpdate(order, order.updated_ms))
        elif channel == "userFills":
            snapshot = bool(data.get("isSnapshot"))
            for raw in data.get("fills", []):
                self._emit_fill(parse.parse_fill(raw, self._by_coin), snapshot)
                if not snapshot and (liq := parse.parse_liquidation(raw, self._by_coin)) is not None:
                    self._queue.put_nowait(liq)  # the fill names the market; the "user" summary does not
        elif channel == "user":
            if "liquidation" in data:
                log.warning("liquidation on %s: %s", VENUE, data["liquidation"])
        elif channel == "userFundings":
            if data.get("isSnapshot"):
                return
            for f in data.get("fundings", []):
                m = self._by_coin.get(f["coin"])
                self._queue.put_nowait(FundingEvent(FundingPayment(
                    VENUE, m.symbol if m else f["coin"], Decimal(f["usdc"]), Decimal(f["fundingRate"]),
                    Decimal(f["szi"]), int(f["time"]))))
        else:
            log.debug("unhandled channel %s", channel)

    def _emit_fill(self, fill: Fill, snapshot: bool) -> None:
        if fill.fill_id in self._seen_fills:
            return
        self._seen_fills.add(fill.fill_id)
        # a snapshot replays history; only what is newer than the last fill we saw live was missed
        replay = snapshot and fill.ts_ms <= self._last_fill_ms
        self._last_fill_ms = max(self._last_fill_ms, fill.ts_ms)
        self._queue.put_nowait(FillEvent(fill, is_snapshot=replay or (snapshot and not self._last_fill_ms)))

    def _track(self, order: Order) -> None:
        """Orders known to be open on the venue: after a gap, those no longer open are looked up."""
        if order.order_id is None:
            return
        if order.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
            self._open_seen[order.order_id] = order.symbol
        else:
            self._open_seen.pop(order.order_id, None)

    async def _fills_since_last(self) -> None:
        for fill in await self.fills(max(0, self._last_fill_ms - 1)):
            self._emit_fill(fill, snapshot=False)

    async def _backfill(self) -> None:
        """After a gap: fills since the last one seen, the state of every order still open, and the
        final state of every order that was open before and is not any more (filled, cancelled by the
        venue, ...), so no order is left looking open."""
        try:
            await self._fills_since_last()
            still_open = await self.open_orders()
            for order in still_open:
                self._track(order)
                self._queue.put_nowait(OrderUpdate(order, self.clock()))
            gone = set(self._open_seen) - {o.order_id for o in still_open}
            for oid in sorted(gone):
                try:
                    order = await self.order_status(self._open_seen[oid], order_id=oid)
                except OrderNotFoundError:
                    self._open_seen.pop(oid, None)
                    continue
                self._track(order)
                self._queue.put_nowait(OrderUpdate(order, self.clock()))
        except ExchangeError as exc:
            log.warning("backfill after reconnect failed: %s", exc)

    async def close_feed(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def events(self) -> AsyncIterator[Event]:  # type: ignore[override]
        while True:
            yield await self._queue.get()

    @property
    def stream_connected(self) -> bool:
        return self._stream.connected.is_set()
