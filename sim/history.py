"""Price history of the simulated markets, and candles built from it.

Prices are not kept point by point (50,000 (ts, Decimal) tuples a market took ~69 MB after 14 h of
1 s ticks): they make OHLCV bars of six base intervals — 1m, 5m, 15m, 1h, 4h, 1d — kept as flat
arrays of integers (prices in whole units of the market's finest price so far), at most `keep` bars
each. 5,000 bars is the most a Hyperliquid candleSnapshot answers, so every interval keeps that much:
3.5 days of 1m bars, 5,000 days of 1d bars (a correlation over 500 bars or a 100-bar chart of any
interval fits). Other intervals (3m, 30m, 2h, 8h, 12h, 3d, 1w) are summed from the coarsest base
interval that divides them, which gives the same bars.

A candle is a whole bar: a window that starts inside a bar gets that bar complete, as from a venue
(the point history used to give a first bar made of the points after the start only).
"""

from __future__ import annotations

import bisect
import logging
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

log = logging.getLogger(__name__)
ZERO = Decimal(0)
BASE_STEPS_MS = (60_000, 300_000, 900_000, 3_600_000, 14_400_000, 86_400_000)
KEEP_BARS = 5_000
NO_PRICE = -1  # a bar that has only trades so far


@dataclass(frozen=True, slots=True)
class Bar:
    open_ms: int
    close_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int


class _Bars:
    """One market's bars at one interval, oldest first, in parallel arrays. A bar with trades but no
    price yet (high < 0) counts its volume into coarser candles and is never shown itself."""

    __slots__ = ("c", "h", "keep", "l", "n", "o", "step", "t", "v")

    def __init__(self, step: int, keep: int):
        self.step, self.keep = step, keep
        self.t, self.o, self.h, self.l, self.c = (array("q") for _ in range(5))
        self.n = array("I")  # trades
        self.v: list[Decimal] = []  # volume; most bars share the one ZERO

    def index(self, b: int) -> int | None:
        t = self.t
        i = len(t) - 1 if t and t[-1] == b else bisect.bisect_left(t, b)
        return i if i < len(t) and t[i] == b else None

    def _bar(self, b: int) -> int:
        """The index of the bar starting at `b`, added without a price if there is none."""
        t = self.t
        if t and t[-1] == b:
            return len(t) - 1
        if not t or b > t[-1]:
            for a in (self.o, self.h, self.l, self.c):
                a.append(NO_PRICE)
            t.append(b)
            self.n.append(0)
            self.v.append(ZERO)
            if len(t) > self.keep:
                cut = len(t) - self.keep
                for a in (t, self.o, self.h, self.l, self.c, self.n):
                    del a[:cut]
                del self.v[:cut]
            return len(t) - 1
        i = bisect.bisect_left(t, b)  # older than the newest bar (a clock set back)
        if t[i] == b:
            return i
        for a in (self.o, self.h, self.l, self.c):
            a.insert(i, NO_PRICE)
        t.insert(i, b)
        self.n.insert(i, 0)
        self.v.insert(i, ZERO)
        return i

    def merge(self, ts: int, o: int, h: int, low: int, c: int) -> None:
        """Fold prices (one point: o = h = l = c, or a finer bar starting at `ts`) into the bar holding them."""
        i = self._bar(ts - ts % self.step)
        if self.h[i] < 0:
            self.o[i], self.h[i], self.l[i], self.c[i] = o, h, low, c
            return
        if h > self.h[i]:
            self.h[i] = h
        if low < self.l[i]:
            self.l[i] = low
        self.c[i] = c

    def trade(self, ts: int, size: Decimal) -> None:
        i = self._bar(ts - ts % self.step)
        self.v[i] += size
        self.n[i] += 1

    def rescale(self, factor: int) -> None:
        for a in (self.o, self.h, self.l, self.c):
            a[:] = array("q", (x * factor if x >= 0 else x for x in a))


class _Market:
    """Points go into the 1m bars; a minute's prices are folded into the coarser bars when the next
    minute opens (a query folds the open minute in on the fly), so a point costs one bar update, not
    six. Trades go straight into the bar of every interval."""

    __slots__ = ("coarser", "decimals", "minute", "open_minute")

    def __init__(self, keep: int):
        self.decimals = 0  # prices are stored as whole units of 10**-decimals
        self.minute, *self.coarser = (_Bars(step, keep) for step in BASE_STEPS_MS)
        self.open_minute: int | None = None  # the newest minute with prices: not in the coarser bars yet

    def scaled(self, px: Decimal) -> int:
        s = px.scaleb(self.decimals)
        i = int(s)
        if i != s:  # finer than any price so far: every bar of this market moves to the finer unit
            exponent = px.normalize().as_tuple().exponent
            assert isinstance(exponent, int)  # a finite price
            finer = -exponent
            factor = 10 ** (finer - self.decimals)
            for bars in (self.minute, *self.coarser):
                bars.rescale(factor)
            self.decimals = finer
            i = int(px.scaleb(finer))
        return i

    def unscaled(self, i: int) -> Decimal:
        return Decimal(i).scaleb(-self.decimals)

    def point(self, ts: int, p: int) -> None:
        m, b = self.minute, ts - ts % BASE_STEPS_MS[0]
        if m.t and m.t[-1] == b and m.h[-1] >= 0:  # the common case: one more price in the open minute
            if p > m.h[-1]:
                m.h[-1] = p
            elif p < m.l[-1]:
                m.l[-1] = p
            m.c[-1] = p
            return
        om = self.open_minute
        if om is not None and b > om:
            self._fold(om)  # the open minute is done: into the coarser bars
        m.merge(ts, p, p, p, p)
        if om is None or b > om:
            self.open_minute = b
        elif b < om:  # a minute before the open one (a clock set back): the coarser bars take the point
            for bars in self.coarser:
                bars.merge(ts, p, p, p, p)

    def _fold(self, minute: int) -> None:
        m = self.minute
        i = m.index(minute)
        if i is not None:
            for bars in self.coarser:
                bars.merge(minute, m.o[i], m.h[i], m.l[i], m.c[i])

    def trade(self, ts: int, size: Decimal) -> None:
        for bars in (self.minute, *self.coarser):
            bars.trade(ts, size)

    def rows(self, base: _Bars, start_ms: int, end_ms: int) -> list[list[Any]]:
        """Bars of `base` from start_ms to end_ms as [t, o, h, l, c, v, n], the open minute folded in."""
        t = base.t
        lo, hi = bisect.bisect_left(t, start_ms), bisect.bisect_right(t, end_ms)
        out: list[list[Any]] = [[t[i], base.o[i], base.h[i], base.l[i], base.c[i], base.v[i], base.n[i]]
                                for i in range(lo, hi)]
        m, om = self.minute, self.open_minute
        j = m.index(om) if base is not m and om is not None and start_ms <= om <= end_ms else None
        if om is not None and j is not None:  # its trades are in `base` already: only its prices
            b = om - om % base.step
            i = bisect.bisect_left([row[0] for row in out], b)  # a later bar may hold an early trade
            if i == len(out) or out[i][0] != b:
                out.insert(i, [b, NO_PRICE, NO_PRICE, NO_PRICE, NO_PRICE, ZERO, 0])
            _fold_row(out[i], m.o[j], m.h[j], m.l[j], m.c[j], ZERO, 0)
        return out


def _fold_row(row: list[Any], o: int, h: int, low: int, c: int, v: Decimal, n: int) -> None:
    """Fold a later bar of the same period into `row` ([t, o, h, l, c, v, n])."""
    if h >= 0:
        if row[2] < 0:
            row[1:5] = o, h, low, c
        else:
            row[2], row[3], row[4] = max(row[2], h), min(row[3], low), c
    row[5], row[6] = row[5] + v, row[6] + n


class PriceHistory:
    def __init__(self, symbols: Iterable[str], keep: int = KEEP_BARS):
        self._markets = {s: _Market(keep) for s in symbols}

    def record(self, ts_ms: int, mids: dict[str, Decimal]) -> None:
        for s, px in mids.items():
            m = self._markets.get(s)
            if m is None:
                continue
            try:
                m.point(ts_ms, m.scaled(px))
            except OverflowError:  # a price 14 orders of magnitude from the others: not kept, not fatal
                log.warning("price %s of %s not kept in the candle history: out of range", px, s)

    def trade(self, ts_ms: int, symbol: str, size: Decimal) -> None:
        m = self._markets.get(symbol)
        if m is not None:
            m.trade(ts_ms, size)

    def candles(self, symbol: str, step_ms: int, start_ms: int, end_ms: int) -> list[Bar]:
        """Bars of `step_ms` (a whole number of minutes) that hold prices in [start_ms, end_ms]."""
        m = self._markets.get(symbol)
        if m is None:
            return []
        base = next((b for b in (*reversed(m.coarser), m.minute) if step_ms % b.step == 0), None)
        if base is None:
            raise ValueError(f"candles of {step_ms} ms: the history keeps whole minutes")
        bars: list[list[Any]] = []
        for t, o, h, low, c, v, n in m.rows(base, start_ms - start_ms % step_ms, end_ms):
            t -= t % step_ms
            if bars and bars[-1][0] == t:
                _fold_row(bars[-1], o, h, low, c, v, n)
            else:
                bars.append([t, o, h, low, c, v, n])
        u = m.unscaled
        return [Bar(t, t + step_ms - 1, u(o), u(h), u(low), u(c), v, n) for t, o, h, low, c, v, n in bars
                if h >= 0]


__all__ = ["BASE_STEPS_MS", "KEEP_BARS", "Bar", "PriceHistory"]
