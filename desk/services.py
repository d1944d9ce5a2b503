"""Read-side services for any front end: balances, positions, orders, prices, PnL, status, limits.

Each venue is asked concurrently; a venue that fails shows its error instead of hiding the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Generic, TypeVar
from zoneinfo import ZoneInfo

from desk.settings import DeskSettings
from exchanges.aio import within
from exchanges.base import Exchange
from exchanges.errors import ExchangeError, InvalidSymbolError
from exchanges.models import AccountBalances, FundingRate, Market, Order, Position, Ticker
from risk.service import Risk
from store.db import Store

if TYPE_CHECKING:
    from desk.charts import EquityData  # matplotlib loads only when a chart is drawn

T = TypeVar("T")
ZERO = Decimal(0)
DAY_MS = 86_400_000


@dataclass(frozen=True)
class PerVenue(Generic[T]):
    venue: str
    value: T | None
    error: str | None = None
    unlisted: bool = False  # the venue does not list the market asked about: not an error to show


@dataclass(frozen=True)
class PnLPeriod:
    name: str
    realized: Decimal
    fees: Decimal
    funding: Decimal | None
    trades: int

    @property
    def net(self) -> Decimal:
        return self.realized - self.fees + (self.funding or ZERO)


@dataclass(frozen=True)
class VenueStatus:
    venue: str
    connected: bool | None
    rest_ms: float | None
    stream_age_s: float | None
    error: str | None
    headroom: str | None = None
    stream_why: str | None = None  # why the stream is down (a stall, a close), as it reported
    circuit: str | None = None  # the venue's circuit breaker when not closed ("circuit open: ...")


def app_version() -> str:
    try:
        return version("tradebot")
    except PackageNotFoundError:
        return "dev"


class Services:
    def __init__(self, risk: Risk, store: Store, settings: DeskSettings, clock: Callable[[], int]):
        self.risk, self.store, self.settings, self.clock = risk, store, settings, clock
        self.started_ms = clock()

    @property
    def venues(self) -> dict[str, Exchange]:
        return self.risk.orders.exchanges

    async def _each(self, fn: Callable[[str], Awaitable[T]], timeout_s: float = 10.0) -> list[PerVenue[T]]:
        async def one(v: str) -> PerVenue[T]:
            try:
                return PerVenue(v, await within(fn(v), timeout_s))
            except (ExchangeError, OSError, TimeoutError) as exc:
                return PerVenue(v, None, getattr(exc, "raw", None) or str(exc) or type(exc).__name__,
                                unlisted=isinstance(exc, InvalidSymbolError))

        return list(await asyncio.gather(*(one(v) for v in self.venues)))

    async def market(self, venue: str, symbol: str) -> Market | None:
        try:
            return await self.venues[venue].market(symbol)
        except (ExchangeError, KeyError):
            return None

    async def balances(self) -> list[PerVenue[AccountBalances]]:
        return await self._each(lambda v: self.venues[v].balances())

    async def positions(self) -> list[PerVenue[list[Position]]]:
        return await self._each(lambda v: self.venues[v].positions())

    async def open_orders(self) -> list[PerVenue[list[Order]]]:
        return await self._each(lambda v: self.venues[v].open_orders())

    async def prices(self, symbol: str) -> list[PerVenue[Ticker]]:
        async def one(v: str) -> Ticker:
            return await self.venues[v].ticker(symbol)

        return [r for r in await self._each(one) if not r.unlisted]

    async def funding(self, symbol: str) -> list[PerVenue[FundingRate]]:
        """Each venue's rate. Where a venue does not say when it next pays, the next whole interval:
        Hyperliquid pays every hour on the hour (the paper venue copies it); Aster says so itself."""
        now = self.clock()
        out = []
        for r in await self._each(lambda v: self.venues[v].funding_rate(symbol)):
            if r.unlisted:
                continue
            if r.value is not None and r.value.next_ms is None and r.value.interval_hours > 0:
                step = r.value.interval_hours * 3_600_000
                r = PerVenue(r.venue, replace(r.value, next_ms=now - now % step + step))
            out.append(r)
        return out

    async def pnl(self) -> tuple[list[PnLPeriod], Decimal]:
        now = self.clock()
        starts = [("today", self.risk.pnl.day_start_ms(now)), ("7 days", now - 7 * DAY_MS),
                  ("30 days", now - 30 * DAY_MS)]
        fills = await self.store.fills_since(starts[-1][1])
        funding_by_venue = await self._each(lambda v: self.venues[v].funding_payments(starts[-1][1]))
        periods = []
        for name, since in starts:
            mine = [f for f in fills if f.ts_ms >= since]
            funding: Decimal | None = ZERO
            for fv in funding_by_venue:
                if fv.value is None:
                    funding = None
                elif funding is not None:
                    funding += sum((p.amount for p in fv.value if p.ts_ms >= since), ZERO)
            periods.append(PnLPeriod(name, sum((f.realized_pnl for f in mine), ZERO),
                                     sum((f.fee for f in mine), ZERO), funding, len(mine)))
        unrealized = ZERO
        for pv in await self.positions():
            unrealized += sum((p.unrealized_pnl for p in pv.value or []), ZERO)
        return periods, unrealized

    async def status(self) -> list[VenueStatus]:
        now = self.clock()
        out = []
        for v, ex in self.venues.items():
            t0 = time.perf_counter()
            error = None
            try:
                markets = await within(ex.markets(), 10)
                if markets:
                    await within(ex.ticker(next(iter(markets))), 10)
                rest_ms: float | None = (time.perf_counter() - t0) * 1000
            except (ExchangeError, OSError, TimeoutError, InvalidSymbolError) as exc:
                rest_ms, error = None, getattr(exc, "raw", None) or str(exc) or type(exc).__name__
            connected, last = self.risk.sync.streams.get(v, (None, None))
            age = (now - last) / 1000 if last else None
            headroom = None
            if error is None:
                try:
                    headroom = await within(ex.rate_limit_status(), 10)
                except (ExchangeError, OSError, TimeoutError) as exc:
                    headroom = f"unknown ({exc})"
            why = self.risk.sync.stream_why.get(v) if connected is False else None
            circuit = ex.circuit_status()
            out.append(VenueStatus(v, connected, rest_ms, age, error, headroom, why, circuit))
        return out

    async def equity_chart(self, days: int) -> bytes:
        """PNG: total equity over the last `days`, above realized PnL and fees per period."""
        from desk.charts import equity_chart

        return await asyncio.to_thread(equity_chart, await self.equity_chart_data(days))

    def uptime_s(self) -> float:
        return (self.clock() - self.started_ms) / 1000

    async def equity_chart_data(self, days: int) -> EquityData:
        """What the equity chart draws: the total where every venue has a value, ending at the live equity
        (snapshots are a minute apart), and realized PnL and fees per loss-limit day (shorter periods while
        the history is short)."""
        from desk.charts import EquityData, bar_period_ms, equity_totals, floor_ms, pnl_bars, thin

        now, pnl = self.clock(), self.risk.pnl
        since = now - days * DAY_MS
        live = (pnl.known_ms, pnl.equity) if pnl.equity is not None and pnl.known_ms is not None else None
        series = equity_totals(await self.store.equity_since(since), list(self.venues), live)
        fills = await self.store.fills_since(since)
        first = min([t for t, _ in series[:1]] + [f.ts_ms for f in fills[:1]], default=now)
        period = bar_period_ms(now - first)
        zone = ZoneInfo(self.settings.timezone)
        bars = pnl_bars(fills, pnl.day_start_ms if period == DAY_MS else lambda ts: floor_ms(ts, period, zone))
        return EquityData(thin(series), bars, period, f"Equity, last {days} days", self.settings.timezone, now, since)
