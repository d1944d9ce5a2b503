"""Market data of one venue side: the public REST answers and the market streams, from one book.

The book a client sees (REST depth, diff and partial depth streams, bookTicker) is the engine's
aggregated book with one update id sequence per market: every change published as a depthUpdate
moves it (U = previous u + 1, `pu` = previous u), and a REST snapshot first publishes what changed,
so `lastUpdateId` always sits on the stream's sequence (the docs' local-book procedure works).
Diff depth, bookTicker, aggTrade and kline are pushed when something changes; partial depth
(`@depth5/10/20`, every 250 ms, or @100ms / @500ms) and markPrice (3 s, or @1s) keep the venue's
cadence, changed or not. A partial-depth, bookTicker or markPrice stream also gets one message as
soon as it is subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from exchanges.models import MarketKind
from sim.aster import events as ev
from sim.aster.errors import BAD_INTERVAL, BAD_SYMBOL, INVALID_DEPTH, err, mandatory
from sim.aster.markets import Catalog
from sim.aster.params import integer
from sim.aster.streams import Conn, Hub
from sim.aster.wire import Fmt, fixed
from sim.book import SimOrder
from sim.engine import Engine, SimFill
from sim.history import PriceHistory

ZERO = Decimal(0)
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
INTERVALS = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "6h": 360,
             "8h": 480, "12h": 720, "1d": 1440, "3d": 4320, "1w": 10080}
PARTIAL = ("5", "10", "20")
SPEEDS = ("", "@100ms", "@250ms", "@500ms")
CADENCE_S = {"": 0.25, "@100ms": 0.1, "@250ms": 0.25, "@500ms": 0.5}
KEEP_TRADES = 1000


class MarketData:
    def __init__(self, engine: Engine, catalog: Catalog, clock: Callable[[], int], hub: Hub, side: str,
                 history: PriceHistory, funding: Callable[[str], tuple[Decimal, int]] | None = None):
        self.e, self.cat, self.clock, self.hub, self.side = engine, catalog, clock, hub, side
        self.history, self.funding = history, funding
        self.fmt = Fmt(catalog)
        self.update_id = dict.fromkeys(catalog.markets, 1_000_000)
        self.span = {n: (1_000_000, 1_000_000, 999_999) for n in catalog.markets}  # last diff's (U, u, pu)
        self.published: dict[str, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = {
            n: ({}, {}) for n in catalog.markets}
        self.best: dict[str, tuple[list[str], list[str]]] = {}
        self.trades: dict[str, deque[SimFill]] = {n: deque(maxlen=KEEP_TRADES) for n in catalog.markets}
        self.dirty: set[str] = set()
        self._scheduled = False
        self._agg = 0
        self._pushed: dict[str, float] = {}  # stream -> when its cadence last pushed it (monotonic s)
        engine.subscribe(self._on_engine)

    def native(self, params: dict[str, str], *, required: bool = True) -> str | None:
        raw = params.get("symbol", "").upper()
        if not raw:
            if required:
                raise mandatory("symbol")
            return None
        if raw not in self.cat.markets:
            raise err(BAD_SYMBOL)
        return raw

    # ---- the book and its update ids ----
    def _on_engine(self, kind: str, payload: object) -> None:
        if isinstance(payload, SimOrder | SimFill) and payload.symbol in self.e.markets:
            self.mark_dirty([self.cat.native(payload.symbol)])
        if isinstance(payload, SimFill) and payload.crossed and not payload.liquidation:
            n = self.cat.native(payload.symbol)
            self.trades[n].append(payload)
            self.history.trade(payload.ts_ms, payload.symbol, payload.size)
            self._agg += 1
            wanted = self.hub.wanted(self.side)
            if f"{n.lower()}@aggTrade" in wanted:
                self.hub.publish(self.side, f"{n.lower()}@aggTrade", ev.agg_trade(self.fmt, n, payload, self._agg))
            if f"{n.lower()}@tradepro" in wanted:
                self.hub.publish(self.side, f"{n.lower()}@tradepro", ev.trade_pro(self.fmt, n, payload))

    def mark_dirty(self, natives: list[str]) -> None:
        self.dirty.update(natives)
        if not self._scheduled:
            with contextlib.suppress(RuntimeError):  # no loop: the next snapshot publishes
                asyncio.get_running_loop().call_soon(self.flush)
                self._scheduled = True

    def _levels(self, native: str, n: int = 1000) -> tuple[list[tuple[Decimal, Decimal]],
                                                           list[tuple[Decimal, Decimal]]]:
        bids, asks = self.e.books[self.cat.markets[native].symbol].depth(n)
        return [(p, q) for p, q, _ in bids], [(p, q) for p, q, _ in asks]

    def flush(self, only: str | None = None) -> bool:
        """Publish what changed (of `only`, or of every market marked); True if something was."""
        self._scheduled = False if only is None else self._scheduled
        natives = [only] if only is not None else sorted(self.dirty)
        published = False
        wanted = self.hub.wanted(self.side)
        now = self.clock()
        for n in natives:
            self.dirty.discard(n)
            bids, asks = self._levels(n)
            old_b, old_a = self.published[n]
            new_b, new_a = dict(bids), dict(asks)
            db = [(p, q) for p, q in bids if old_b.get(p) != q] + [(p, ZERO) for p in old_b if p not in new_b]
            da = [(p, q) for p, q in asks if old_a.get(p) != q] + [(p, ZERO) for p in old_a if p not in new_a]
            if not db and not da:
                continue
            prev = self.update_id[n]
            first, last = prev + 1, prev + len(db) + len(da)
            self.update_id[n], self.span[n], published = last, (first, last, prev), True
            self.published[n] = (new_b, new_a)
            low = n.lower()
            diff = ev.depth_update(n, first, last, prev, ev.levels(self.fmt, n, sorted(db, reverse=True)),
                                   ev.levels(self.fmt, n, sorted(da)), now)
            for speed in SPEEDS:
                if f"{low}@depth{speed}" in wanted:
                    self.hub.publish(self.side, f"{low}@depth{speed}", diff)
            for depth in PARTIAL:
                for speed in SPEEDS:
                    if f"{low}@depth{depth}{speed}" in wanted:
                        self.hub.publish(self.side, f"{low}@depth{depth}{speed}", self._partial(n, int(depth)))
            best = self._best(n)
            if best != self.best.get(n):
                self.best[n] = best
                for stream in (f"{low}@bookTicker", "!bookTicker"):
                    if stream in wanted:
                        self.hub.publish(self.side, stream, ev.book_ticker(n, last, best[0], best[1], now))
        return published

    def _partial(self, native: str, depth: int) -> dict[str, Any]:
        bids, asks = self._levels(native, depth)
        first, last, prev = self.span[native]
        return ev.depth_update(native, first, last, prev, ev.levels(self.fmt, native, bids),
                               ev.levels(self.fmt, native, asks), self.clock())

    def _best(self, native: str) -> tuple[list[str], list[str]]:
        bids, asks = self._levels(native, 1)
        f = self.fmt
        bid = [f.price(native, bids[0][0]), f.qty(native, bids[0][1])] if bids else ["0", "0"]
        ask = [f.price(native, asks[0][0]), f.qty(native, asks[0][1])] if asks else ["0", "0"]
        return bid, ask

    def prices_moved(self, natives: list[str]) -> None:
        self.mark_dirty(natives)
        wanted = self.hub.wanted(self.side)
        if not wanted:
            return
        now = self.clock()
        for n in natives:
            low = n.lower()
            if self.funding is not None:
                for stream in (f"{low}@markPrice", f"{low}@markPrice@1s"):
                    if stream in wanted:
                        self.hub.publish(self.side, stream, self._mark_event(n, now))
            for interval in INTERVALS:
                stream = f"{low}@kline_{interval}"
                if stream in wanted:
                    bars = self._bars(n, interval, now - INTERVALS[interval] * 60_000, now)
                    if bars:
                        self.hub.publish(self.side, stream, ev.kline(self.fmt, n, interval, bars[-1], False, now))
        if self.funding is not None and ("!markPrice@arr" in wanted or "!markPrice@arr@1s" in wanted):
            items = [self._mark_event(n, now) for n in natives]
            for stream in ("!markPrice@arr", "!markPrice@arr@1s"):
                for c in [c for c in self.hub.conns if c.side == self.side and stream in c.subs]:
                    self.hub.send(c, stream, items)  # type: ignore[arg-type]

    def cadence(self) -> None:
        """Push the streams the venue sends on a clock (partial depth, markPrice) that are due."""
        mono, now = time.monotonic(), self.clock()
        for stream in self.hub.wanted(self.side):
            sym, _, rest = stream.partition("@")
            native = sym.upper()
            if rest.startswith("depth") and rest[5:].split("@")[0] in PARTIAL:
                every = CADENCE_S.get(rest[5:].partition("@")[1] + rest[5:].partition("@")[2], 0.25)
            elif rest.startswith("markPrice") and self.funding is not None:
                every = 1.0 if rest.endswith("@1s") else 3.0
            else:
                continue
            if native not in self.cat.markets or mono - self._pushed.get(stream, 0.0) < every:
                continue
            self._pushed[stream] = mono
            if rest.startswith("depth"):
                self.flush(native)
                self.hub.publish(self.side, stream, self._partial(native, int(rest[5:].split("@")[0])))
            else:
                self.hub.publish(self.side, stream, self._mark_event(native, now))

    def _mark_event(self, native: str, now: int) -> dict[str, Any]:
        assert self.funding is not None
        rate, next_ms = self.funding(native)
        return ev.mark_price(native, self.e.mark(self.cat.markets[native].symbol), rate, next_ms, now)

    def on_subscribe(self, conn: Conn, stream: str) -> None:
        """The first message of a stream that shows a state."""
        sym, _, rest = stream.partition("@")
        native = sym.upper()
        if native not in self.cat.markets:
            return
        if rest.startswith("markPrice"):
            if self.funding is not None:
                self.hub.send(conn, stream, self._mark_event(native, self.clock()))
            return
        if self.flush(native):
            return  # what changed just went out, to this subscriber too
        if rest.startswith("depth") and rest[5:].split("@")[0] in PARTIAL:
            self.hub.send(conn, stream, self._partial(native, int(rest[5:].split("@")[0])))
        elif rest == "bookTicker":
            bid, ask = self.best.get(native) or self._best(native)
            self.hub.send(conn, stream, ev.book_ticker(native, self.update_id[native], bid, ask, self.clock()))

    # ---- REST ----
    def depth(self, params: dict[str, str]) -> dict[str, Any]:
        native = self.native(params)
        assert native is not None
        raw = integer(params, "limit")
        limit = raw if raw is not None else (500 if self.cat.kind is MarketKind.PERP else 100)
        if limit not in DEPTH_LIMITS:
            raise err(INVALID_DEPTH)
        self.flush(native)
        bids, asks = self._levels(native, limit)
        now = self.clock()
        return {"lastUpdateId": self.update_id[native], "E": now, "T": now, "bids": ev.levels(self.fmt, native, bids),
                "asks": ev.levels(self.fmt, native, asks)}

    def _bars(self, native: str, interval: str, start: int, end: int) -> list[Any]:
        return self.history.candles(self.cat.markets[native].symbol, INTERVALS[interval] * 60_000, start, end)

    def klines(self, params: dict[str, str]) -> list[list[Any]]:
        native = self.native(params)
        assert native is not None
        interval = params.get("interval", "")
        if not interval:
            raise mandatory("interval")
        if interval not in INTERVALS:
            raise err(BAD_INTERVAL)
        limit = min(1500, integer(params, "limit") or 500)
        now = self.clock()
        end = integer(params, "endTime") or now
        start = integer(params, "startTime") or end - limit * INTERVALS[interval] * 60_000
        bars = self._bars(native, interval, start, end)
        bars = bars[:limit] if params.get("startTime") else bars[-limit:]
        f = self.fmt
        return [[b.open_ms, f.price(native, b.open), f.price(native, b.high), f.price(native, b.low),
                 f.price(native, b.close), fixed(b.volume, self.cat.qty_decimals(native)), b.close_ms,
                 f.quote(native, b.volume * b.close) or "0", b.trades, "0", "0", "0"] for b in bars]

    def recent_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        native = self.native(params)
        assert native is not None
        limit = min(1000, integer(params, "limit") or 500)
        f = self.fmt
        return [{"id": t.tid, "price": f.price(native, t.price), "qty": f.qty(native, t.size),
                 "quoteQty": f.quote(native, t.price * t.size), "time": t.ts_ms, "isBuyerMaker": t.side.value == "sell"}
                for t in list(self.trades[native])[-limit:]]

    def _ticker(self, native: str, now: int) -> dict[str, Any]:
        f, symbol = self.fmt, self.cat.markets[native].symbol
        bars = self.history.candles(symbol, 60_000, now - 86_400_000, now)
        last = self.e.mark(symbol)
        open_ = bars[0].open if bars else last
        high = max((b.high for b in bars), default=last)
        low = min((b.low for b in bars), default=last)
        volume = sum((b.volume for b in bars), ZERO)
        quote = sum((b.volume * b.close for b in bars), ZERO)
        trades = [t for t in self.trades[native] if t.ts_ms >= now - 86_400_000]
        change = last - open_
        out: dict[str, Any] = {
            "symbol": native, "priceChange": f.price(native, change) if change else "0",
            "priceChangePercent": fixed(change / open_ * 100 if open_ else ZERO, 3),
            "weightedAvgPrice": f.price(native, quote / volume if volume else last),
            "prevClosePrice": f.price(native, open_), "lastPrice": f.price(native, last),
            "lastQty": f.qty(native, trades[-1].size) if trades else "0", "openPrice": f.price(native, open_),
            "highPrice": f.price(native, high), "lowPrice": f.price(native, low),
            "volume": fixed(volume, self.cat.qty_decimals(native)), "quoteVolume": fixed(quote, 2),
            "openTime": bars[0].open_ms if bars else now - 86_400_000, "closeTime": now,
            "firstId": trades[0].tid if trades else -1, "lastId": trades[-1].tid if trades else -1,
            "count": len(trades),
        }
        if self.cat.kind is MarketKind.SPOT:  # as the live spot answer: book, assets, and times/ids as strings
            (bid, bid_q), (ask, ask_q) = self._best(native)
            out.update({"bidPrice": bid, "bidQty": bid_q, "askPrice": ask, "askQty": ask_q,
                        "baseAsset": self.cat.listings[native].base, "quoteAsset": "USDT"})
            for k in ("openTime", "closeTime", "firstId", "lastId", "count"):
                out[k] = str(out[k])
        return out

    def ticker_24hr(self, params: dict[str, str]) -> Any:
        native, now = self.native(params, required=False), self.clock()
        return self._ticker(native, now) if native else [self._ticker(n, now) for n in self.cat.markets]

    def ticker_price(self, params: dict[str, str]) -> Any:
        native, now = self.native(params, required=False), self.clock()

        def one(n: str) -> dict[str, Any]:
            return {"symbol": n, "price": self.fmt.price(n, self.e.mark(self.cat.markets[n].symbol)), "time": now}
        return one(native) if native else [one(n) for n in self.cat.markets]

    def book_ticker(self, params: dict[str, str]) -> Any:
        native, now = self.native(params, required=False), self.clock()

        def one(n: str) -> dict[str, Any]:
            (bid, bid_q), (ask, ask_q) = self._best(n)
            return {"symbol": n, "bidPrice": bid, "bidQty": bid_q, "askPrice": ask, "askQty": ask_q, "time": now}
        return one(native) if native else [one(n) for n in self.cat.markets]

