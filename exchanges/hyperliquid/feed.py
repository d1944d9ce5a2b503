"""Hyperliquid's channels, routed into the shared event feed (exchanges/common/feed.py) and reads.

Order updates, fills, funding and liquidations become events; the account-state feeds go to the
reads; prices and books are kept in `Prices` (parsed when read).

A quiet feed is not trusted on its word: every `probe_s` the prices and account feeds that have
said nothing for that long are checked against the venue over REST (weight 2 each). A probe that
agrees keeps the pushed state trusted; one that finds the venue ahead of the feed (a fill, a
position, a price the stream never told) restarts the stream, whose backfill then fetches the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchanges.common.feed import EventFeed
from exchanges.hyperliquid import parse
from exchanges.hyperliquid.reads import PUSHED, Reads, orders_reported
from exchanges.models import FundingEvent, FundingPayment, Market, OrderBook, OrderUpdate

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


@dataclass
class Prices:
    """Mids (symbol -> price) and books (coin -> the latest l2Book, parsed when first read)."""

    mids: dict[str, Decimal] = field(default_factory=dict)
    mids_ms: int = 0  # when they were last heard (a push or REST)
    books: dict[str, dict[str, Any] | OrderBook] = field(default_factory=dict)

    def clear(self) -> None:
        self.mids, self.books = {}, {}  # the snapshots after resubscribing replace them


class Channels:
    def __init__(self, feed: EventFeed, reads: Reads, prices: Prices, by_coin: Callable[[], dict[str, Market]],
                 *, info: Callable[[dict[str, Any]], Awaitable[Any]], user: str,
                 quiet_s: Callable[[str], float | None], probe_s: float):
        self.feed, self.reads, self.prices, self._by_coin = feed, reads, prices, by_coin
        self._info, self.user, self._quiet_s, self.probe_s = info, user, quiet_s, probe_s

    async def on_message(self, channel: str, data: Any) -> None:
        by_coin = self._by_coin()
        if channel in PUSHED:
            self.reads.pushed(channel, data)
            return
        if channel in ("userFills", "user", "userFundings"):
            self.reads.changed()
        if channel == "l2Book":
            m = by_coin.get(data.get("coin"))
            if m is not None:
                self.prices.books[m.native] = data
            return
        if channel == "allMids":
            self.prices.mids, self.prices.mids_ms = parse.parse_mids(data["mids"], by_coin), self.feed.clock()
        elif channel == "orderUpdates":
            self.reads.order_updates(orders_reported(data))
            for u in data:
                order = parse.parse_order(u["order"], by_coin, VENUE, u["status"], u.get("statusTimestamp"))
                self.feed.track(order)
                self.feed.emit(OrderUpdate(order, order.updated_ms))
        elif channel == "userFills":
            snapshot = bool(data.get("isSnapshot"))
            for raw in data.get("fills", []):
                self.feed.emit_fill(parse.parse_fill(raw, by_coin), snapshot)
                if not snapshot and (liq := parse.parse_liquidation(raw, by_coin)) is not None:
                    self.feed.emit(liq)  # the fill names the market; the "user" summary does not
        elif channel == "user":
            if "liquidation" in data:
                log.warning("liquidation on %s: %s", VENUE, data["liquidation"])
        elif channel == "userFundings":
            if data.get("isSnapshot"):
                return
            for f in data.get("fundings", []):
                m = by_coin.get(f["coin"])
                self.feed.emit(FundingEvent(FundingPayment(
                    VENUE, m.symbol if m else f["coin"], Decimal(f["usdc"]), Decimal(f["fundingRate"]),
                    Decimal(f["szi"]), int(f["time"]))))
        else:
            log.debug("unhandled channel %s", channel)

    async def probe_once(self) -> str | None:
        """Check every feed quiet for probe_s against REST. Returns the first feed found behind."""
        quiet_ms = int(self.probe_s * 1000)
        clock, prices = self.feed.clock, self.prices
        for feed, (key, _) in (("clearinghouseState", PUSHED["clearinghouseState"]),
                               ("spotState", PUSHED["spotState"])):
            quiet = self.reads.quiet_ms(key)
            if quiet is not None and quiet >= quiet_ms:
                if await self.reads.probe(key, {"type": key, "user": self.user}, _SAME[key]) is False:
                    return feed
        silent = self._quiet_s("allMids")
        if prices.mids and (silent is None or silent * 1000 >= quiet_ms) and clock() - prices.mids_ms >= quiet_ms:
            asked = clock()
            raw = await self._info({"type": "allMids"})
            if prices.mids_ms > asked:
                return None  # a push arrived while we asked
            mids = parse.parse_mids(raw, self._by_coin())
            if mids != prices.mids:
                prices.mids, prices.mids_ms = mids, clock()
                return "allMids"
            prices.mids_ms = clock()
        return None
