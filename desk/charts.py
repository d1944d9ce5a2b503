"""Pictures for the phone, as PNG bytes: the equity curve with PnL bars (/pnl), and candles (/chart).

What a picture draws is prepared by pure functions (tested as numbers); drawing only turns it into
pixels. Figures are built with matplotlib's object API on the Agg canvas, never pyplot, because they
are drawn in worker threads (asyncio.to_thread) and pyplot keeps global state. Decimal becomes float
only where a value is handed to matplotlib.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import groupby, pairwise
from zoneinfo import ZoneInfo

import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from exchanges.models import Candle, Fill

ZERO = Decimal(0)
MIN_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000
GREEN, RED, BLUE, GREY = "#2ca02c", "#d62728", "#1f77b4", "#7f7f7f"
LEVEL_COLOURS = {"entry": BLUE, "liq.": RED, "TP": GREEN, "SL": "#ff7f0e"}
Level = tuple[str, Decimal]  # ("entry", 101234.5): a price marked across a chart, with its name


# ---- what the equity chart draws ----

@dataclass(frozen=True)
class PnLBar:
    start_ms: int
    realized: Decimal  # realized PnL as the venue reports it, before fees
    fees: Decimal  # fees paid (negative: rebates received)


@dataclass(frozen=True)
class EquityData:
    series: list[tuple[int, Decimal]]  # (ts_ms, total equity) as the line is drawn
    bars: list[PnLBar]
    bar_ms: int  # the period each bar covers
    title: str
    tz: str  # the configured time zone: the time axis is read in it
    now_ms: int
    since_ms: int  # where the asked-for window starts


def equity_totals(rows: Iterable[tuple[int, str, Decimal]], venues: Sequence[str],
                  live: tuple[int, Decimal] | None = None) -> list[tuple[int, Decimal]]:
    """Total equity over time from per-venue snapshots (ts_ms, venue, equity).

    A total exists only from the moment every venue has a value; after that each venue's last value is
    carried forward. Summing rows that share a timestamp instead made a venue read a moment apart from
    the others (or missing from a snapshot) drop the total to one venue's equity and back: spikes.
    `live`: (known_ms, equity) the latest total, which ends the line (the store keeps one point a minute).
    """
    wanted = set(venues)
    last: dict[str, Decimal] = {}
    out: list[tuple[int, Decimal]] = []
    for ts, group in groupby(sorted(rows, key=lambda r: r[0]), key=lambda r: r[0]):
        for _, venue, equity in group:
            if venue in wanted:
                last[venue] = equity
        if wanted and len(last) == len(wanted):
            out.append((ts, sum(last.values(), ZERO)))
    if live is not None:
        out = [p for p in out if p[0] < live[0]] + [live]
    return out


def thin(series: list[tuple[int, Decimal]], max_points: int = 1200) -> list[tuple[int, Decimal]]:
    """At most about `max_points` of a long series (30 days of minutes is 43,200; the picture is ~600
    pixels wide): each slice keeps its lowest and highest point, in time order, so a drawdown still
    shows; the last point (the live equity) is always kept."""
    if len(series) <= max_points:
        return series
    size = math.ceil(len(series) / (max_points // 2))
    out: list[tuple[int, Decimal]] = []
    for i in range(0, len(series), size):
        chunk = series[i:i + size]
        lo, hi = min(chunk, key=lambda p: p[1]), max(chunk, key=lambda p: p[1])
        out.extend(sorted({lo, hi}))
    if out[-1] != series[-1]:
        out.append(series[-1])
    return out


def pnl_bars(fills: Iterable[Fill], period_of: Callable[[int], int]) -> list[PnLBar]:
    """Realized PnL and fees per period; `period_of(ts)` gives the start of the period holding ts."""
    acc: dict[int, tuple[Decimal, Decimal]] = {}
    for f in fills:
        start = period_of(f.ts_ms)
        realized, fees = acc.get(start, (ZERO, ZERO))
        acc[start] = (realized + f.realized_pnl, fees + f.fee)
    return [PnLBar(t, r, fee) for t, (r, fee) in sorted(acc.items())]


def bar_period_ms(history_ms: int) -> int:
    """How long each PnL bar is: a day over long histories; shorter ones get shorter bars so a few
    hours of history fill the chart instead of one day-wide bar squeezing the line into a sliver."""
    for period, needs in ((DAY_MS, 2 * DAY_MS), (HOUR_MS, 6 * HOUR_MS), (15 * MIN_MS, HOUR_MS)):
        if history_ms >= needs:
            return period
    return 5 * MIN_MS


def floor_ms(ts_ms: int, period_ms: int, zone: ZoneInfo) -> int:
    """The start of the `period_ms` slot (a divisor of a day) holding ts_ms, on the local clock."""
    local = datetime.fromtimestamp(ts_ms / 1000, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(milliseconds=period_ms)
    return int((midnight + ((local - midnight) // step) * step).timestamp() * 1000)


# ---- axes ----

class Plain(Formatter):
    """Tick labels as plain numbers with thousands separators, never an offset ("+2e4") or scientific
    notation. `places`: fixed decimals (a market's precision); None: as few as tell the ticks apart
    (money: none or at least cents)."""

    def __init__(self, places: int | None = None, prefix: str = ""):
        self.places, self.prefix = places, prefix
        self._auto = 0

    def set_locs(self, locs: list[float]) -> None:
        super().set_locs(locs)
        self._auto = _places_for(list(locs))
        if self.prefix == "$" and self._auto:
            self._auto = max(2, self._auto)

    def __call__(self, x: float, pos: int | None = None) -> str:
        places = self.places if self.places is not None else self._auto
        body = f"{abs(x):,.{places}f}"
        negative = x < 0 and any(ch not in "0,." for ch in body)
        return f"{'-' if negative else ''}{self.prefix}{body}"


def _places_for(locs: list[float]) -> int:
    steps = [b - a for a, b in pairwise(locs) if b > a]
    if not steps:
        return 0
    step = min(steps)
    for places in range(7):
        if all(abs(round(x, places) - x) < step * 1e-3 for x in locs):
            return places
    return 6


def _x(ts_ms: float) -> float:
    return float(mdates.date2num(datetime.fromtimestamp(ts_ms / 1000, UTC)))


def _time_axis(ax: object, zone: ZoneInfo, maxticks: int = 6) -> None:
    locator = mdates.AutoDateLocator(tz=zone, minticks=3, maxticks=maxticks)
    ax.xaxis.set_major_locator(locator)  # type: ignore[attr-defined]
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))  # type: ignore[attr-defined]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)  # attaches itself: fig.canvas.draw() and savefig work without pyplot
    return fig


# ---- the equity chart ----

def _period_name(ms: int) -> str:
    return {DAY_MS: "per day", HOUR_MS: "per hour"}.get(ms, f"per {ms // MIN_MS} min")


def equity_figure(data: EquityData) -> Figure:
    """Equity (line) above realized PnL and fees per period (bars, side by side)."""
    zone = ZoneInfo(data.tz)
    fig = _figure(6, 5)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    starts = [t for t, _ in data.series[:1]] + [b.start_ms for b in data.bars[:1]]
    x0 = min(starts, default=data.now_ms - HOUR_MS)
    x1 = max([data.now_ms] + [t for t, _ in data.series[-1:]] + [b.start_ms + data.bar_ms for b in data.bars[-1:]])
    if x1 - x0 < 10 * MIN_MS:  # one moment: give the axis a span to draw
        x0, x1 = x0 - 5 * MIN_MS, x1 + 5 * MIN_MS
    title = data.title
    if data.series:
        xs = [_x(t) for t, _ in data.series]
        top.plot(xs, [float(v) for _, v in data.series], color=BLUE, linewidth=1.8,
                 marker="." if len(xs) <= 20 else None)  # a few points are shown as points
        if data.series[0][0] > data.since_ms + DAY_MS:  # say how much history there is
            first = datetime.fromtimestamp(data.series[0][0] / 1000, zone)
            title += f"\n(recorded since {first:%d %b %H:%M})"
    else:
        top.text(0.5, 0.5, "no equity recorded yet", ha="center", va="center", transform=top.transAxes)
    top.set_title(title, fontsize=11)
    top.set_ylabel("equity")
    top.grid(alpha=0.3)
    if data.bars:
        width = data.bar_ms / DAY_MS * 0.42
        left = [_x(b.start_ms + data.bar_ms * 0.06) for b in data.bars]
        realized = [float(b.realized) for b in data.bars]
        bottom.bar(left, realized, width=width, align="edge", label="realized PnL",
                   color=[GREEN if r >= 0 else RED for r in realized])
        bottom.bar([x + width for x in left], [-float(b.fees) for b in data.bars], width=width, align="edge",
                   color=GREY, label="fees")
        bottom.legend(loc="lower left", bbox_to_anchor=(0, 1), fontsize=7, ncols=2, frameon=False, borderaxespad=0)
    else:
        bottom.text(0.5, 0.5, "no trades", ha="center", va="center", transform=bottom.transAxes, fontsize=8)
    bottom.axhline(0, color="black", linewidth=0.6)
    bottom.set_ylabel(_period_name(data.bar_ms), fontsize=8)
    bottom.grid(alpha=0.3)
    for ax in (top, bottom):
        ax.yaxis.set_major_formatter(Plain(prefix="$"))
    bottom.set_xlim(_x(x0), _x(x1))
    _time_axis(bottom, zone)
    fig.tight_layout()
    return fig


def equity_chart(data: EquityData) -> bytes:
    return _png(equity_figure(data))


# ---- candles ----

def candle_figure(candles: Sequence[Candle], step_ms: int, levels: Sequence[Level], places: int, tz: str,
                  title: str) -> Figure:
    """Candles with horizontal lines at `levels`, each labelled with its price. A level far outside the
    candles' range is named at the edge it lies beyond (↑/↓) instead of squashing the candles."""
    zone = ZoneInfo(tz)
    fig = _figure(7, 4.4)
    ax = fig.add_subplot()
    width = step_ms / DAY_MS * 0.7
    xs = [_x(c.open_ms + step_ms / 2) for c in candles]
    colours = [GREEN if c.close >= c.open else RED for c in candles]
    ax.vlines(xs, [float(c.low) for c in candles], [float(c.high) for c in candles], colors=colours,
              linewidth=0.8)
    ax.bar(xs, [float(abs(c.close - c.open)) for c in candles], bottom=[float(min(c.open, c.close)) for c in candles],
           width=width, color=colours, edgecolor=colours, linewidth=0.6)
    tick = Decimal(1).scaleb(-places)
    lo, hi = min(c.low for c in candles), max(c.high for c in candles)
    span = max(hi - lo, 10 * tick)  # never fewer than ~10 ticks tall, so labels stay distinct
    near = [p for _, p in levels if lo - span / 2 <= p <= hi + span / 2]
    lo, hi = min([lo, *near]), max([hi, *near])
    if hi - lo < 10 * tick:
        lo, hi = lo - 5 * tick, hi + 5 * tick
    pad = (hi - lo) * Decimal("0.06")
    bottom_y, top_y = float(lo - pad), float(hi + pad)
    ax.set_ylim(bottom_y, top_y)
    edge = blended_transform_factory(ax.transAxes, ax.transData)
    for name, price in levels:
        colour = LEVEL_COLOURS.get(name, GREY)
        label = f"{name} {price:,.{places}f}"
        if lo <= price <= hi:
            ax.axhline(float(price), color=colour, linestyle="--", linewidth=1)
            y, va = float(price), "bottom"
        else:
            below = price < lo
            label += " ↓" if below else " ↑"
            y, va = (bottom_y, "bottom") if below else (top_y, "top")
        ax.text(0.995, y, label, transform=edge, ha="right", va=va, fontsize=8, color=colour,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    ax.yaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(Plain(places))
    if xs:  # room on the right for the level labels
        ax.set_xlim(xs[0] - width, xs[-1] + width + (xs[-1] - xs[0]) * 0.2)
    _time_axis(ax, zone, maxticks=7)
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.25)
    fig.tight_layout()
    return fig


def candle_chart(candles: Sequence[Candle], step_ms: int, levels: Sequence[Level], places: int, tz: str,
                 title: str) -> bytes:
    return _png(candle_figure(candles, step_ms, levels, places, tz, title))


__all__ = ["EquityData", "Level", "PnLBar", "bar_period_ms", "candle_chart", "candle_figure", "equity_chart",
           "equity_figure", "equity_totals", "floor_ms", "pnl_bars", "thin"]
