"""The event feed: what a venue's stream says, as the bot's events, with nothing lost or told twice.

A composed object with its own state, handed what it needs: the event queue, a clock, and the REST
calls for the backfill. The venue's channel router calls `emit_fill`, `track` and `emit`; the stream
calls `on_state`.
- Fills are emitted once: deduped by venue fill id in a bounded memory (`FILL_MEMORY` ids, oldest
  forgotten first), and a snapshot that replays history is marked so it is not told as new.
- Orders known to be open are tracked; after a gap, fills since the last one seen, every order
  still open and the final state of every order that closed meanwhile are fetched over REST.
- `watch` probes quiet feeds while the stream is up (the venue says how) and restarts the stream
  when one is behind; while it is down, fills are polled over REST so none waits for the stream.
Every background task is kept and awaited on `close`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from exchanges.common.bounded import SeenIds
from exchanges.errors import ExchangeError, OrderNotFoundError
from exchanges.models import Event, Fill, FillEvent, Order, OrderStatus, OrderUpdate, StreamStatus

log = logging.getLogger(__name__)
FILL_MEMORY = 10_000  # fill ids remembered: far more than a backfill or a snapshot replays at once

FetchFills = Callable[[int], Awaitable[list[Fill]]]
FetchOpen = Callable[[], Awaitable[list[Order]]]
FetchStatus = Callable[[str, str], Awaitable[Order]]  # (symbol, order id) -> order


class EventFeed:
    def __init__(self, venue: str, queue: asyncio.Queue[Event], clock: Callable[[], int], *, fills: FetchFills,
                 open_orders: FetchOpen, order_status: FetchStatus, on_lost: Callable[[], None] = lambda: None,
                 remember_fills: int = FILL_MEMORY):
        self.venue, self.queue, self.clock = venue, queue, clock
        self._fills, self._open_orders, self._order_status = fills, open_orders, order_status
        self._on_lost = on_lost  # the venue's own state to drop when the stream goes down
        self.seen_fills = SeenIds(remember_fills)
        self.last_fill_ms = 0
        self.open_seen: dict[str, str] = {}  # order id -> symbol
        self._was_down = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- what the router tells ----
    def emit(self, event: Event) -> None:
        self.queue.put_nowait(event)

    def emit_fill(self, fill: Fill, snapshot: bool) -> None:
        if not self.seen_fills.add(fill.fill_id):
            return
        # a snapshot replays history; only what is newer than the last fill we saw live was missed
        replay = snapshot and fill.ts_ms <= self.last_fill_ms
        self.last_fill_ms = max(self.last_fill_ms, fill.ts_ms)
        self.queue.put_nowait(FillEvent(fill, is_snapshot=replay or (snapshot and not self.last_fill_ms)))

    def track(self, order: Order) -> None:
        """Orders known to be open on the venue: after a gap, those no longer open are looked up."""
        if order.order_id is None:
            return
        if order.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
            self.open_seen[order.order_id] = order.symbol
        else:
            self.open_seen.pop(order.order_id, None)

    # ---- what the stream tells ----
    async def on_state(self, up: bool, reason: str) -> None:
        self.queue.put_nowait(StreamStatus(self.venue, up, self.clock(), reason))
        if not up:
            self._on_lost()
            self._was_down = True
        elif self._was_down:
            self._was_down = False
            self.keep(self.backfill())

    # ---- REST ----
    async def fills_since_last(self) -> None:
        for fill in await self._fills(max(0, self.last_fill_ms - 1)):
            self.emit_fill(fill, snapshot=False)

    async def backfill(self) -> None:
        """After a gap: fills since the last one seen, the state of every order still open, and the
        final state of every order that was open before and is not any more (filled, cancelled by the
        venue, ...), so no order is left looking open."""
        try:
            await self.fills_since_last()
            still_open = await self._open_orders()
            for order in still_open:
                self.track(order)
                self.queue.put_nowait(OrderUpdate(order, self.clock()))
            gone = set(self.open_seen) - {o.order_id for o in still_open}
            for oid in sorted(gone):
                try:
                    order = await self._order_status(self.open_seen[oid], oid)
                except OrderNotFoundError:
                    self.open_seen.pop(oid, None)
                    continue
                self.track(order)
                self.queue.put_nowait(OrderUpdate(order, self.clock()))
        except ExchangeError as exc:
            log.warning("%s: backfill after reconnect failed: %s", self.venue, exc)

    async def watch(self, connected: Callable[[], bool], probe: Callable[[], Awaitable[str | None]],
                    restart: Callable[[str], Awaitable[None]], *, probe_s: float, down_poll_s: float) -> None:
        """Probes while the stream is up; while it is down (or never came up), fills are fetched over
        REST every down_poll_s, so a fill is stored and told without waiting for the stream."""
        last_poll = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(probe_s / 2)
            if not connected():
                if loop.time() - last_poll >= down_poll_s:
                    last_poll = loop.time()
                    try:
                        await self.fills_since_last()
                    except ExchangeError as exc:
                        log.info("%s: fills over REST while the stream is down: %s", self.venue, exc)
                continue
            try:
                behind = await probe()
            except ExchangeError as exc:  # the venue cannot be asked now: the pushes just stay untrusted
                log.info("%s: probe of the quiet stream failed: %s", self.venue, exc)
                continue
            if behind:
                await restart(f"stalled: the {behind} feed fell behind the venue")

    # ---- tasks and the consumer ----
    def keep(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()
