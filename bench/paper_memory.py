"""Memory of the paper venue's price history over a day of ticks: the point history it had before
issue #11 (50,000 (ts, Decimal) tuples a market) against the compact bars (sim/history.py).

    python -m bench.paper_memory [--hours 24] [--rounds 2] [--tick-ms 1000]

Each run is a fresh paper venue on a fake clock, ticked once a simulated second for `--hours` (its
engine on a one-level synthetic book, so a day takes seconds, not a day); the runs alternate new,
old, new, old in this one process. For each run it prints the tick rate, the history's retained
size (every object it holds, counted once: the figure to compare, since a run after an old one
reuses the heap that one freed and its RSS growth reads low), and the process RSS growth while
ticking and after the venue is freed. Then it checks that both classes give the same candles for
every interval over the last 12 hours (what the point history still reaches after a day).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

from sim.book import LiquidityProfile
from sim.engine import Engine
from sim.history import Bar, PriceHistory
from sim.hyperliquid.info import INTERVALS
from sim.markets import default_markets, starting_prices
from sim.paper import PaperExchange

START_MS = 1_700_000_000_000 - 1_700_000_000_000 % 86_400_000


class PointHistory:
    """sim/history.py as it was: every point kept (up to 50,000 a market), candles summed per query."""

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


class Clock:
    def __init__(self) -> None:
        self.ms = START_MS

    def __call__(self) -> int:
        return self.ms


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def retained(root: object) -> int:
    """Bytes of every object reachable from `root`, each counted once (classes and code excluded)."""
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, type | ModuleType | FunctionType):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        stack.extend(gc.get_referents(o))
    return total


def run(kind: str, hours: float, tick_ms: int) -> tuple[PointHistory | PriceHistory, int, dict[str, Any]]:
    clock = Clock()
    markets = default_markets("paper")
    engine = Engine(markets, starting_prices(), clock=clock, liquidity=LiquidityProfile(levels=1))
    history = (PointHistory if kind == "points" else PriceHistory)([m.symbol for m in markets])
    paper = PaperExchange(clock=clock, tick_interval_s=None, engine=engine, history=history)  # type: ignore[arg-type]
    asyncio.run(paper.connect())
    ticks = int(hours * 3_600_000 / tick_ms)
    gc.collect()
    rss0, t0 = rss_bytes(), time.perf_counter()
    for _ in range(ticks):
        clock.ms += tick_ms
        paper.tick()
    elapsed = time.perf_counter() - t0
    asyncio.run(paper.close())
    del paper, engine
    gc.collect()
    return history, clock.ms, {"rate": ticks / elapsed, "grown": rss_bytes() - rss0, "size": retained(history),
                               "rss0": rss0}


def same_candles(old: PointHistory, new: PriceHistory, end_ms: int, symbols: list[str]) -> list[str]:
    bad = []
    for name, step in INTERVALS.items():
        start = end_ms - 12 * 3_600_000
        start -= start % step
        if start < end_ms - 12 * 3_600_000:  # a bar the point history only partly reaches
            start += step
        for s in symbols:
            if old.candles(s, step, start, end_ms) != new.candles(s, step, start, end_ms):
                bad.append(f"{s} {name}")
    return bad


def mb(n: float) -> str:
    return f"{n / 1e6:+.1f} MB" if abs(n) >= 1e5 else f"{n / 1e3:+.0f} KB"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--tick-ms", type=int, default=1000)
    args = p.parse_args()
    symbols = [m.symbol for m in default_markets("paper")]
    print(f"paper venue, {args.hours:g} h of ticks every {args.tick_ms} ms, {len(symbols)} markets, fake clock")
    print("| round | history | ticks/s | history holds | RSS while ticking | RSS after freeing |")
    print("|---|---|---|---|---|---|")
    kept: dict[str, Any] = {}
    end_ms = 0
    for r in range(1, args.rounds + 1):
        for kind in ("bars", "points"):  # the bars first: on a fresh heap, their RSS is their own
            history, end_ms, m = run(kind, args.hours, args.tick_ms)
            final = r == args.rounds
            if final:
                kept[kind] = history  # compared below
            del history
            gc.collect()
            label = "points (before)" if kind == "points" else "bars (after)"
            after = "kept for the check" if final else mb(rss_bytes() - m["rss0"])
            print(f"| {r} | {label} | {m['rate']:,.0f} | {mb(m['size'])[1:]} | {mb(m['grown'])} | {after} |")
    bad = same_candles(kept["points"], kept["bars"], end_ms, symbols)
    print(f"\ncandles over the last 12 h, every interval, every market: "
          f"{'identical' if not bad else 'DIFFER: ' + ', '.join(bad)}")
    return 0 if not bad else 1


if __name__ == "__main__":
    raise SystemExit(main())
