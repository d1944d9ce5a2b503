"""Trade history for /trades, /profit, /performance and /daily /weekly /monthly.

Pure aggregation over stored fills and the venues' funding payments (only `funding_since` does I/O).
Funding comes per venue; a venue that could not be read is None, never zero: every total it would
have entered is marked "funding unknown" so a view can say so.

Periods are local to the configured time zone and start at the loss-limit day's reset hour (as
risk.pnl.PnLTracker counts days); weeks start on Monday. The period kinds are one small table.
"""

from __future__ import annotations

import asyncio
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from exchanges.aio import within
from exchanges.errors import ExchangeError
from exchanges.models import Fill, FundingPayment

ZERO = Decimal(0)
STABLES = frozenset({"USD", "USDC", "USDT", "USDE", "USDH", "FDUSD"})
Funding = Mapping[str, Sequence[FundingPayment] | None]  # per venue; None: could not be read


@dataclass(frozen=True)
class Tally:
    realized: Decimal
    fees: Decimal  # USD, positive = paid
    funding: Decimal  # USD, positive = received; only what could be read (see funding_known)
    funding_known: bool
    fills: int
    closes: int  # fills that realized something (realized_pnl != 0)
    wins: int  # closes with realized_pnl > 0
    unpriced_fees: frozenset[str] = frozenset()  # fee assets we cannot value in USD (not in `fees`)

    @property
    def net(self) -> Decimal:
        """Realized minus fees plus funding (the known part of it when funding_known is False)."""
        return self.realized - self.fees + self.funding

    @property
    def win_rate(self) -> Decimal | None:
        return Decimal(self.wins) / self.closes * 100 if self.closes else None


@dataclass(frozen=True)
class MarketTally:
    exchange: str
    symbol: str
    tally: Tally


@dataclass(frozen=True)
class Window:
    label: str
    start_ms: int  # inclusive
    end_ms: int  # exclusive


@dataclass(frozen=True)
class PeriodTally:
    window: Window
    tally: Tally


@dataclass(frozen=True)
class PeriodKind:
    """One row of the period table: how a period is named, where it starts and the one before it."""

    name: str
    title: str
    column: str
    unit: str
    default: int
    maximum: int
    first_day: Callable[[date], date]  # the first day of the period holding this day
    previous: Callable[[date], date]  # the first day of the period before the one starting here
    label: Callable[[date], str]


PERIODS: dict[str, PeriodKind] = {p.name: p for p in (
    PeriodKind("daily", "Daily", "Day", "days", 7, 90, lambda d: d, lambda d: d - timedelta(days=1),
               date.isoformat),
    PeriodKind("weekly", "Weekly", "Week of", "weeks", 4, 52, lambda d: d - timedelta(days=d.weekday()),
               lambda d: d - timedelta(days=7), date.isoformat),
    PeriodKind("monthly", "Monthly", "Month", "months", 3, 36, lambda d: d.replace(day=1),
               lambda d: (d - timedelta(days=1)).replace(day=1), lambda d: d.strftime("%Y-%m")),
)}


def fee_usd(f: Fill) -> Decimal | None:
    """The fee in USD: stablecoin fees as they are, fees in the base asset at the fill's price."""
    asset = f.fee_asset.upper()
    if asset in STABLES:
        return f.fee
    if asset == f.symbol.split("/")[0].upper():
        return f.fee * f.price
    return None


def tally(fills: Iterable[Fill], payments: Iterable[FundingPayment], funding_known: bool = True) -> Tally:
    realized = fees = ZERO
    n = closes = wins = 0
    unpriced: set[str] = set()
    for f in fills:
        n += 1
        realized += f.realized_pnl
        fee = fee_usd(f)
        if fee is None:
            unpriced.add(f.fee_asset)
        else:
            fees += fee
        if f.realized_pnl != 0:
            closes += 1
            wins += f.realized_pnl > 0
    funding = sum((p.amount for p in payments), ZERO)
    return Tally(realized, fees, funding, funding_known, n, closes, wins, frozenset(unpriced))


def _payments(funding: Funding) -> list[FundingPayment]:
    return [p for got in funding.values() for p in got or ()]


def unread(funding: Funding) -> list[str]:
    return [v for v, got in funding.items() if got is None]


def summarize(fills: Sequence[Fill], funding: Funding) -> Tally:
    """Everything: every fill, every payment that could be read."""
    return tally(fills, _payments(funding), not unread(funding))


def by_market(fills: Sequence[Fill], funding: Funding) -> list[MarketTally]:
    """Per (exchange, symbol), best net first; a market with only funding is listed too."""
    keys = {(f.exchange, f.symbol) for f in fills} | {(p.exchange, p.symbol) for p in _payments(funding)}
    out = [MarketTally(ex, sym, tally((f for f in fills if (f.exchange, f.symbol) == (ex, sym)),
                                      (p for p in funding.get(ex) or () if p.symbol == sym),
                                      funding.get(ex) is not None))
           for ex, sym in keys]
    return sorted(out, key=lambda m: (-m.tally.net, m.symbol, m.exchange))


def best_worst(markets: Sequence[MarketTally]) -> tuple[MarketTally, MarketTally] | None:
    """The markets with the highest and the lowest net; None with fewer than two markets."""
    if len(markets) < 2:
        return None
    ranked = sorted(markets, key=lambda m: (m.tally.net, m.symbol, m.exchange))
    return ranked[-1], ranked[0]


def local_day(ts_ms: int, tz: zoneinfo.ZoneInfo, reset_hour: int) -> date:
    """The trading day holding ts_ms: it begins at reset_hour local time (PnLTracker.day_of)."""
    return (datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(tz) - timedelta(hours=reset_hour)).date()


def day_start_ms(day: date, tz: zoneinfo.ZoneInfo, reset_hour: int) -> int:
    return int(datetime.combine(day, time(reset_hour), tz).timestamp() * 1000)


def windows(kind: PeriodKind, now_ms: int, count: int, tz: zoneinfo.ZoneInfo, reset_hour: int) -> list[Window]:
    """The last `count` periods of this kind, the current (unfinished) one first."""
    first = kind.first_day(local_day(now_ms, tz, reset_hour))
    out: list[Window] = []
    end = day_start_ms(_next_first(kind, first), tz, reset_hour)
    for _ in range(count):
        start = day_start_ms(first, tz, reset_hour)
        out.append(Window(kind.label(first), start, end))
        first, end = kind.previous(first), start
    return out


def _next_first(kind: PeriodKind, first: date) -> date:
    """The first day of the period after the one starting on `first` (the current period's end)."""
    day = first + timedelta(days=1)
    while kind.first_day(day) == first:
        day += timedelta(days=1)
    return day


def by_period(fills: Sequence[Fill], funding: Funding, spans: Sequence[Window]) -> list[PeriodTally]:
    known = not unread(funding)
    payments = _payments(funding)
    return [PeriodTally(w, tally((f for f in fills if w.start_ms <= f.ts_ms < w.end_ms),
                                 (p for p in payments if w.start_ms <= p.ts_ms < w.end_ms), known))
            for w in spans]


@dataclass(frozen=True)
class Page:
    fills: list[Fill]  # newest first
    number: int  # 0 = the newest
    pages: int
    until_ms: int  # fills after this are left out, so the pages stay put while new fills arrive


def page(fills: Sequence[Fill], size: int, number: int, until_ms: int | None = None) -> Page:
    """One page of fills, newest first, counting only fills up to until_ms (default: the newest)."""
    if until_ms is None:
        until_ms = max((f.ts_ms for f in fills), default=0)
    mine = sorted((f for f in fills if f.ts_ms <= until_ms), key=lambda f: (f.ts_ms, f.fill_id), reverse=True)
    pages = max(1, -(-len(mine) // size))
    number = min(max(number, 0), pages - 1)
    return Page(mine[number * size:(number + 1) * size], number, pages, until_ms)


def local_time(ts_ms: int, tz: zoneinfo.ZoneInfo) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(tz).strftime("%m-%d %H:%M")


async def funding_since(venues: Mapping[str, Any], since_ms: int, timeout_s: float = 10.0,
                        ) -> tuple[dict[str, list[FundingPayment] | None], dict[str, str]]:
    """Every venue's funding payments since since_ms, asked at once; (per venue or None, why not)."""
    errors: dict[str, str] = {}

    async def one(v: str) -> list[FundingPayment] | None:
        try:
            return list(await within(venues[v].funding_payments(since_ms), timeout_s))
        except (ExchangeError, OSError, TimeoutError) as exc:
            errors[v] = getattr(exc, "raw", None) or str(exc) or type(exc).__name__
            return None

    names = list(venues)
    got = await asyncio.gather(*(one(v) for v in names))
    return dict(zip(names, got, strict=True)), errors
