"""A quiet user-data stream, checked over REST.

An account stream says nothing while nothing happens, and a socket can keep answering pings while
its data has stopped. So while the streams are quiet, the markets in play are asked over REST: a fill
the stream never told is told now (the feed drops what it has seen), and an order tracked as open
that the venue no longer lists is looked up. When the stream still has not told either after a grace
(a push may simply be on its way), the stream is behind: it is restarted, and the feed's backfill
brings every order's final state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from exchanges.common.feed import EventFeed
from exchanges.models import Fill, Market, MarketKind, Order

Trades = Callable[[Market, int, bool], Awaitable[list[Fill]]]
OpenOf = Callable[[Market], Awaitable[list[Order]]]


class QuietProbe:
    def __init__(self, feed: EventFeed, clock: Callable[[], int], *, trades: Trades, open_of: OpenOf,
                 grace_ms: int):
        self.feed, self.clock, self._trades, self._open_of, self.grace_ms = feed, clock, trades, open_of, grace_ms
        self.rest_first: dict[str, int] = {}  # fill id -> when REST told it before the stream did
        self.unlisted: dict[str, int] = {}  # order id -> since when the venue no longer lists it as open

    def stream_told(self, fill_id: str | None = None, order_id: str | None = None) -> None:
        if fill_id is not None:
            self.rest_first.pop(fill_id, None)
        if order_id is not None:
            self.unlisted.pop(order_id, None)

    async def check(self, markets: Iterable[Market]) -> str | None:
        """None: the stream is keeping up (or nothing to check); else what it failed to tell."""
        active = list(markets)
        if not active:
            return None
        now = self.clock()
        since = max(0, self.feed.last_fill_ms - 1)
        pages = await asyncio.gather(*(self._trades(m, since, m.kind is MarketKind.SPOT) for m in active))
        for fill in sorted((f for page in pages for f in page), key=lambda f: (f.ts_ms, f.fill_id)):
            if fill.fill_id not in self.feed.seen_fills:
                self.rest_first[fill.fill_id] = now
            self.feed.emit_fill(fill, snapshot=False)
        tracked = {m.symbol: [oid for oid, s in self.feed.open_seen.items() if s == m.symbol] for m in active}
        listed = await asyncio.gather(*(self._open_of(m) for m in active if tracked[m.symbol]))
        open_ids = {o.order_id for orders in listed for o in orders}
        for oid, _ in ((oid, s) for s, oids in tracked.items() for oid in oids):
            if oid in open_ids:
                self.unlisted.pop(oid, None)
            else:
                self.unlisted.setdefault(oid, now)
        late: list[Any] = [k for k, t in self.rest_first.items() if now - t >= self.grace_ms]
        late += [k for k, t in self.unlisted.items() if now - t >= self.grace_ms]
        if late:
            self.rest_first.clear()
            self.unlisted.clear()
            return "user-data"
        return None
