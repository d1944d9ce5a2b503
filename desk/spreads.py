"""Spread services: the table over every market listed on two or more venues, the debounce that
turns a lasting edge into one alert, and the two-leg preview / execution behind the Execute button."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchanges.aio import within
from exchanges.errors import ExchangeError
from exchanges.models import BookLevel, FundingRate, Market, MarketKind, OrderBook, Side
from risk.limits import Refusal
from risk.pairs import LegPlan, PairExecutor, PairPlan, PairReport, plan_from, plan_record
from risk.pretrade import OrderRefused, Preview
from risk.service import Risk
from risk.settings import ArbitrageSettings
from risk.spreads import Opportunity, VenueBook, Verdict, common_lot, evaluate, floor_to

log = logging.getLogger(__name__)
ZERO = Decimal(0)
REPORTS_KEPT = 64
# a venue whose top of book is not streamed right now is asked over REST at most this often per market
# (its answer ages meanwhile, and past max_data_age_ms it is stale: no alert rather than a guess)
REST_TOP_EVERY_MS = 5_000


class Debounce:
    """An edge must stay >= the threshold for min_duration_ms before it alerts, and a market alerts at
    most once per cooldown. A dip below the threshold (or no data) starts the wait again."""

    def __init__(self, min_net_bps: Decimal, min_duration_ms: int, cooldown_ms: int):
        self.min_net_bps, self.min_duration_ms, self.cooldown_ms = min_net_bps, min_duration_ms, cooldown_ms
        self._since: dict[str, int] = {}
        self._last: dict[str, int] = {}

    def observe(self, key: str, net_bps: Decimal | None, now_ms: int) -> bool:
        if net_bps is None or net_bps < self.min_net_bps:
            self._since.pop(key, None)
            return False
        since = self._since.setdefault(key, now_ms)
        if now_ms - since < self.min_duration_ms:
            return False
        last = self._last.get(key)
        if last is not None and now_ms - last < self.cooldown_ms:
            return False
        self._last[key] = now_ms
        return True


@dataclass(frozen=True)
class PairQuote:
    """A two-leg preview: what Execute would send, and what every check says about it."""

    plan: PairPlan | None
    opportunity: Opportunity | None
    previews: tuple[Preview, Preview] | None
    expected_net: Decimal | None  # after both fees, at the books' VWAPs
    fees: Decimal | None
    refusals: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not self.refusals


class Spreads:
    def __init__(self, risk: Risk, settings: ArbitrageSettings, clock: Callable[[], int], *,
                 executor: PairExecutor | None = None):
        self.risk, self.settings, self.clock = risk, settings, clock
        self.pairs = executor or PairExecutor(risk.orders, clock)
        self.debounce = Debounce(settings.min_net_bps, settings.min_duration_ms, settings.cooldown_s * 1000)
        self.reports: OrderedDict[str, PairReport] = OrderedDict()  # the latest, for the chat (bounded)
        self._auto: deque[int] = deque()  # when auto mode executed, the last hour (bounded by the rate)
        self._markets: dict[str, list[tuple[str, Market]]] | None = None
        self._rest_tops: dict[tuple[str, str], tuple[int, VenueBook]] = {}  # one per listed market and venue

    @property
    def venues(self) -> dict[str, Any]:
        return self.risk.orders.exchanges

    async def markets(self) -> dict[str, list[tuple[str, Market]]]:
        """Perp symbols listed on two or more enabled venues (cached: listings rarely change)."""
        if self._markets is None:
            listed: dict[str, list[tuple[str, Market]]] = {}
            for name, ex in self.venues.items():
                try:
                    ms = await within(ex.markets(), 10.0)
                except (ExchangeError, TimeoutError) as exc:
                    log.warning("markets of %s unavailable: %s", name, exc)
                    return {}
                for m in ms.values():
                    if m.kind is MarketKind.PERP and m.tradable:
                        listed.setdefault(m.symbol, []).append((name, m))
            self._markets = {s: v for s, v in sorted(listed.items()) if len(v) >= 2}
        return self._markets

    async def _side(self, venue: str, market: Market, with_funding: bool) -> VenueBook | None:
        ex = self.venues[venue]
        try:
            book: OrderBook = await within(ex.order_book(market.symbol), 5.0)
            funding: FundingRate | None = None
            if with_funding:
                try:
                    funding = await within(ex.funding_rate(market.symbol), 5.0)
                except (ExchangeError, TimeoutError):
                    funding = None
        except (ExchangeError, TimeoutError) as exc:
            log.info("book of %s on %s unavailable: %s", market.symbol, venue, exc)
            return None
        return VenueBook(venue, market.symbol, book, ex.taker_fee, market.lot_size, funding)

    async def _top(self, venue: str, market: Market) -> VenueBook | None:
        """Top of book from the venue's ticker (streamed where the venue streams it; no depth, so no
        size): what the watcher scans every poll without spending the venue's request budget."""
        ex = self.venues[venue]
        key = (venue, market.symbol)
        if not ex.reads_in_memory(market.symbol):  # the venue would be asked over REST: not every poll
            cached = self._rest_tops.get(key)
            if cached is not None and self.clock() - cached[0] < REST_TOP_EVERY_MS:
                return cached[1]
        try:
            t = await within(ex.ticker(market.symbol), 5.0)
        except (ExchangeError, TimeoutError):
            return None
        book = OrderBook(venue, market.symbol, (BookLevel(t.bid, ZERO),) if t.bid is not None else (),
                         (BookLevel(t.ask, ZERO),) if t.ask is not None else (), t.ts_ms)
        top = VenueBook(venue, market.symbol, book, ex.taker_fee, market.lot_size)
        self._rest_tops[key] = (self.clock(), top)
        return top

    async def verdict(self, symbol: str, *, with_funding: bool = True, top_only: bool = False) -> Verdict:
        listed = (await self.markets()).get(symbol)
        if not listed:
            return Verdict(symbol, None, "one venue")
        sides = await asyncio.gather(*(self._top(v, m) if top_only else self._side(v, m, with_funding)
                                       for v, m in listed))
        return evaluate(symbol, [s for s in sides if s is not None], self.settings.min_net_bps, self.clock(),
                        self.settings.max_data_age_ms)

    async def table(self, symbol: str | None = None) -> list[Verdict]:
        symbols = [symbol] if symbol else list(await self.markets())
        return list(await asyncio.gather(*(self.verdict(s) for s in symbols)))

    # ---- alerts ----
    async def scan(self) -> list[Opportunity]:
        """One round of the watcher: the opportunities that should alert now."""
        out: list[Opportunity] = []
        now = self.clock()
        # every poll: the top of both books (tickers, streamed); the depth only when an alert is due
        for v in await asyncio.gather(*(self.verdict(s, top_only=True) for s in await self.markets())):
            top = v.best.net_bps if v.best is not None else None
            if not self.debounce.observe(v.symbol, top, now):
                continue
            full = await self.verdict(v.symbol, with_funding=False)
            if full.best is not None and full.best.size > 0 and full.best.net_bps >= self.settings.min_net_bps:
                out.append(full.best)
        return out

    # ---- pairs ----
    async def quote(self, symbol: str, notional_cap: Decimal | None = None) -> PairQuote:
        """The two-leg preview of the best edge on `symbol` right now, capped at max_notional_usd."""
        v = await self.verdict(symbol)
        o = v.best
        if o is None or o.size <= 0:
            why = v.reason or (f"net edge {o.net_bps:.1f} bps is below {self.settings.min_net_bps} bps"
                               if o is not None else "no data")
            return PairQuote(None, o, None, None, None, [Refusal("NO_EDGE", f"No opportunity on {symbol}: {why}.")])
        listed = dict((await self.markets())[symbol])
        mb, ms = listed[o.buy_venue], listed[o.sell_venue]
        cap = notional_cap if notional_cap is not None else self.settings.max_notional_usd
        size = floor_to(min(o.size, cap / o.best_ask), common_lot(mb.lot_size, ms.lot_size))
        if size <= 0:
            return PairQuote(None, o, None, None, None, [Refusal("SIZE", f"{cap} USD buys less than one lot.")])
        slip = self.settings.slippage
        buy = LegPlan(o.buy_venue, symbol, Side.BUY, size, mb.round_price_aggressive(o.best_ask * (1 + slip),
                                                                                   Side.BUY))
        sell = LegPlan(o.sell_venue, symbol, Side.SELL, size, ms.round_price_aggressive(o.best_bid * (1 - slip),
                                                                                      Side.SELL))
        plan = PairPlan(symbol, buy, sell, slip)
        refusals, previews = await self.pairs.check(plan)
        warnings: list[str] = []
        net = fees = None
        if previews is not None:
            pb, ps = previews
            fees = pb.fee + ps.fee
            net = ps.est_price * size - pb.est_price * size - fees
            for leg, pv in ((buy, pb), (sell, ps)):
                warnings.extend(f"{leg.venue}: {w}" for w in pv.warnings)
                if pv.est_filled < size:
                    warnings.append(f"{leg.venue}: only {pv.est_filled} of {size} is on the book within the limit;"
                                    " the rest would be hedged.")
        if o.funding_per_hour is not None and o.funding_per_hour < 0:
            warnings.append("Funding runs against this pair while it is held.")
        warnings.append("Prices move: a leg may fill less than the other. Any difference is hedged at once.")
        return PairQuote(plan, o, previews, net, fees, refusals, warnings)

    @staticmethod
    def payload(q: PairQuote) -> dict[str, Any]:
        """What the confirmation token keeps of a quote (the plan, without client ids)."""
        assert q.plan is not None
        return {"plan": plan_record(q.plan, {"buy": "", "sell": ""})}

    async def execute_confirmed(self, payload: dict[str, Any], origin: str = "") -> PairReport:
        """Execute a previewed pair on fresh prices: if either book moved past its leg's limit, nothing
        is sent (the trader asks for a new preview)."""
        plan, _ = plan_from(payload["plan"])
        if not self.settings.enabled:
            raise OrderRefused([Refusal("ARBITRAGE_OFF", "Arbitrage is off (arbitrage.enabled).")])
        v = await self.verdict(plan.symbol, with_funding=False)
        o = v.best
        fresh = o is not None and o.buy_venue == plan.buy.venue and o.sell_venue == plan.sell.venue
        if not fresh or o is None or o.best_ask > plan.buy.price or o.best_bid < plan.sell.price:
            raise OrderRefused([Refusal("REQUOTE", "Prices moved past the slippage bound since the preview (or"
                                                   f" the data is {v.reason or 'not usable'}): nothing was sent."
                                                   " Open a new preview.")])
        return await self.execute(plan, origin)

    async def execute(self, plan: PairPlan, origin: str = "") -> PairReport:
        report = await self.pairs.execute(plan, origin=origin)
        self.reports[report.pair_id] = report
        while len(self.reports) > REPORTS_KEPT:
            self.reports.popitem(last=False)
        return report

    def auto_allowed(self, q: PairQuote) -> bool:
        """Auto mode: within max_notional_usd (the quote is capped there) and max_pairs_per_hour."""
        if not (self.settings.enabled and self.settings.auto and q.ok):
            return False
        now = self.clock()
        while self._auto and now - self._auto[0] >= 3_600_000:
            self._auto.popleft()
        if len(self._auto) >= self.settings.max_pairs_per_hour:
            return False
        self._auto.append(now)
        return True

    async def recover(self) -> list[PairReport]:
        reports = await self.pairs.recover()
        for r in reports:
            self.reports[r.pair_id] = r
        return reports


__all__ = ["Debounce", "OrderRefused", "PairQuote", "Spreads"]
