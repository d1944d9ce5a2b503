"""Price history of the simulated markets, and candles built from it."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal


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


class PriceHistory:
    def __init__(self, symbols: Iterable[str], maxlen: int = 50_000):
        self._points: dict[str, deque[tuple[int, Decimal]]] = {s: deque(maxlen=maxlen) for s in symbols}
        self._volume: dict[str, deque[tuple[int, Decimal]]] = {s: deque(maxlen=maxlen) for s in self._points}

    def record(self, ts_ms: int, mids: dict[str, Decimal]) -> None:
        for s, px in mids.items():
            if s in self._points:
                self._points[s].append((ts_ms, px))

    def trade(self, ts_ms: int, symbol: str, size: Decimal) -> None:
        if symbol in self._volume:
            self._volume[symbol].append((ts_ms, size))

    def candles(self, symbol: str, step_ms: int, start_ms: int, end_ms: int) -> list[Bar]:
        acc: dict[int, list[Decimal]] = {}
        for ts, px in self._points.get(symbol, ()):
            if start_ms <= ts <= end_ms:
                c = acc.setdefault(ts - ts % step_ms, [px, px, px, px])
                c[1], c[2], c[3] = max(c[1], px), min(c[2], px), px
        vol: dict[int, list[Decimal]] = {}
        for ts, sz in self._volume.get(symbol, ()):
            if start_ms <= ts <= end_ms:
                vol.setdefault(ts - ts % step_ms, []).append(sz)
        return [Bar(t, t + step_ms - 1, o, h, low, c, sum(vol.get(t, []), Decimal(0)), len(vol.get(t, [])))
                for t, (o, h, low, c) in sorted(acc.items())]
