"""Two-leg execution on the OrderManager: a pair that never leaves a naked leg.

1. Both legs are previewed (every pre-trade check on each) and the pair is checked as a unit
   (opposite sides, one size, both venues ACTIVE): any refusal refuses the pair, nothing is sent.
2. The pair record, with both legs' full intents (client ids, sides, sizes, limit prices), is
   committed in ONE transaction before either leg is sent; then both legs go to the OrderManager at
   once as IOC limits at the quoted price +/- the slippage bound.
3. A timeout is never a failure: a leg whose outcome is unknown is looked up by client id.
4. Residual (one leg filled more): the short leg is retried within the slippage bound; if that does
   not fill, the excess of the longer leg is closed reduce-only (never blocked by halts or limits).
5. The report states what the venues said; residual exposure is zero or named, never guessed.
A crash leaves the record unfinished; `recover()` at restart reads both legs by client id from the
venues and closes any excess reduce-only.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchanges.errors import ExchangeError, OrderNotFoundError
from exchanges.models import Order, OrderRequest, OrderStatus, Side, TimeInForce
from risk.events import TradingState
from risk.limits import Refusal
from risk.order_state import new_client_id
from risk.orders import OrderManager, rejected_before_sending
from risk.pretrade import OrderRefused, Preview

log = logging.getLogger(__name__)
ZERO = Decimal(0)
OPEN = ("sending", "hedging")  # a pair in one of these after a restart is recovered
HEDGE_ATTEMPTS = 3



@dataclass(frozen=True, slots=True)
class LegPlan:
    venue: str
    symbol: str
    side: Side
    size: Decimal
    price: Decimal  # the IOC limit: the quoted price plus (buy) or minus (sell) the slippage bound

    def request(self, client_id: str) -> OrderRequest:
        return OrderRequest(self.venue, self.symbol, self.side, self.size, self.price, tif=TimeInForce.IOC,
                            client_id=client_id)


@dataclass(frozen=True, slots=True)
class PairPlan:
    symbol: str
    buy: LegPlan
    sell: LegPlan
    slippage: Decimal


@dataclass(frozen=True, slots=True)
class Fillable:
    """One order of the pair as the venue reported it (None filled: not known)."""

    role: str  # "buy", "sell", "retry", "close"
    venue: str
    side: Side
    client_id: str
    filled: Decimal | None
    avg_price: Decimal | None
    status: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PairReport:
    pair_id: str
    symbol: str
    orders: tuple[Fillable, ...]
    residual: Decimal | None  # signed: + long excess on the buy venue, - short excess; None: unknown
    residual_venue: str | None
    cash: Decimal | None  # sells - buys - fees of every order of the pair (its net PnL once flat)
    fees: Decimal | None
    skew_us: int | None  # between the two legs going to their venues (both intents committed before)
    notes: tuple[str, ...] = ()
    fees_from_fills: bool = False  # the venues' own fees of every fill (else estimated at the taker rates)

    def leg(self, role: str) -> Fillable | None:
        return next((o for o in self.orders if o.role == role), None)

    @property
    def flat(self) -> bool:
        return self.residual is not None and self.residual == 0


@dataclass
class _Book:
    """The pair's orders and their known outcomes while it is worked."""

    plan: PairPlan
    orders: list[Fillable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def net(self) -> Decimal | None:
        """Bought minus sold over every order; None when any outcome is unknown."""
        total = ZERO
        for o in self.orders:
            if o.filled is None:
                return None
            total += o.filled * o.side.sign
        return total


def plan_record(plan: PairPlan, cids: dict[str, str]) -> dict[str, Any]:
    return {"symbol": plan.symbol, "slippage": str(plan.slippage), "legs": [
        {"role": role, "venue": leg.venue, "symbol": leg.symbol, "side": leg.side.value, "size": str(leg.size),
         "price": str(leg.price), "client_id": cids[role]} for role, leg in (("buy", plan.buy), ("sell", plan.sell))],
        "hedges": []}


def plan_from(record: dict[str, Any]) -> tuple[PairPlan, dict[str, str]]:
    legs = {leg["role"]: leg for leg in record["legs"]}

    def one(d: dict[str, Any]) -> LegPlan:
        return LegPlan(d["venue"], d["symbol"], Side(d["side"]), Decimal(d["size"]), Decimal(d["price"]))

    return (PairPlan(record["symbol"], one(legs["buy"]), one(legs["sell"]), Decimal(record["slippage"])),
            {role: d["client_id"] for role, d in legs.items()})


class PairExecutor:
    def __init__(self, orders: OrderManager, clock: Callable[[], int], *, settle_s: float = 6.0):
        self.orders = orders
        self.store = orders.store
        self.clock = clock
        self.settle_s = settle_s  # how long an unknown outcome is looked up before it is reported unknown
        self._lock = asyncio.Lock()  # one pair at a time: the second waits, it is never sent beside another

    # ---- checks ----
    async def check(self, plan: PairPlan) -> tuple[list[Refusal], tuple[Preview, Preview] | None]:
        """Every pre-trade check on each leg, and the pair as a unit."""
        refusals: list[Refusal] = []
        b, s = plan.buy, plan.sell
        if b.side is not Side.BUY or s.side is not Side.SELL or b.size != s.size or b.size <= 0:
            refusals.append(Refusal("PAIR", "The two legs must be one buy and one sell of the same size."))
        if b.venue == s.venue:
            refusals.append(Refusal("PAIR", "The two legs must be on two different exchanges."))
        for leg in (b, s):
            st = self.orders.state.effective(leg.venue)
            if st is not TradingState.ACTIVE:
                refusals.append(Refusal("STATE", f"Trading on {leg.venue} is {st.value}: no new pairs."))
        if refusals:
            return refusals, None
        pb, ps = await asyncio.gather(self.orders.preview(b.request("")), self.orders.preview(s.request("")))
        for leg, pv in ((b, pb), (s, ps)):
            refusals.extend(Refusal(r.code, f"{leg.venue} {leg.side.value} leg: {r.message}") for r in pv.refusals)
            if pv.ok and pv.request.size != leg.size:
                refusals.append(Refusal("PRECISION", f"{leg.size} is not a size {leg.venue} accepts."))
        return refusals, (pb, ps)

    # ---- execution ----
    async def execute(self, plan: PairPlan, *, origin: str = "") -> PairReport:
        async with self._lock:
            refusals, _ = await self.check(plan)
            if refusals:
                raise OrderRefused(refusals)
            pair_id = "p" + secrets.token_hex(6)
            cids = {"buy": new_client_id(), "sell": new_client_id()}
            record = plan_record(plan, cids)
            stamps: dict[str, int] = {}

            def sent_at(cid: str) -> None:  # just before a leg goes to its venue
                stamps[cid] = time.perf_counter_ns()

            # the pair's record and both legs' intents: one transaction, before either leg is sent
            sent = await self.orders.send_together(
                [(leg.request(cids[role]), {"pair": pair_id, "role": role})
                 for role, leg in (("buy", plan.buy), ("sell", plan.sell))], origin=origin,
                also=self.store.pair_write(pair_id, plan.symbol, "sending", record, self.clock()), sent_at=sent_at)
            skew = abs(stamps[cids["buy"]] - stamps[cids["sell"]]) // 1000 if len(stamps) == 2 else None
            book = _Book(plan)
            for (role, leg), out in zip((("buy", plan.buy), ("sell", plan.sell)), sent, strict=True):
                book.orders.append(await self._outcome(role, leg.venue, leg.symbol, leg.side, cids[role], out))
            return await self._finish(pair_id, record, book, skew)

    async def _outcome(self, role: str, venue: str, symbol: str, side: Side, cid: str,
                       out: Order | BaseException | None) -> Fillable:
        """What the venue said of one order; an unknown outcome is looked up by client id."""
        if isinstance(out, Order) and out.status.is_final:
            filled = ZERO if rejected_before_sending(out) else out.filled
            return Fillable(role, venue, side, cid, filled, out.avg_price, out.status.value, out.reason)
        if isinstance(out, BaseException) and not isinstance(out, ExchangeError | TimeoutError):
            log.error("pair leg %s raised %r: looking it up by client id", cid, out)
        return await self._look_up(role, venue, symbol, side, cid)

    async def _look_up(self, role: str, venue: str, symbol: str, side: Side, cid: str) -> Fillable:
        ex = self.orders.venue(venue)
        deadline = time.monotonic() + self.settle_s
        delay = 0.05
        while True:
            try:
                o = await ex.order_status(symbol, client_id=cid)
            except OrderNotFoundError:
                stored = await self.store.get_order(cid)
                # never written, never sent (PENDING at a restart), or settled as absent by reconciliation
                if stored is None or stored.status is OrderStatus.PENDING or (
                        stored.status is OrderStatus.REJECTED and stored.filled == 0):
                    return Fillable(role, venue, side, cid, ZERO, None, "not sent", "the venue never saw it")
                o = None
            except ExchangeError as exc:
                log.warning("lookup of pair order %s failed: %s", cid, exc)
                o = None
            if o is not None and o.status.is_final:
                await self.orders.settle(o, o)
                return Fillable(role, venue, side, cid, o.filled, o.avg_price, o.status.value, o.reason)
            if time.monotonic() >= deadline:
                return Fillable(role, venue, side, cid, None, None,
                                "unknown" if o is None else o.status.value, "still being checked")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _finish(self, pair_id: str, record: dict[str, Any], book: _Book, skew: int | None) -> PairReport:
        await self.store.update_pair(pair_id, "hedging", record, self.clock())
        await self._hedge(pair_id, record, book)
        net = book.net()
        status = "done" if net == 0 else "residual" if net is not None else "hedging"  # unknown: again at restart
        report = await self._report(pair_id, book, skew)
        record["report"] = {"residual": None if net is None else str(net), "notes": book.notes}
        await self.store.update_pair(pair_id, status, record, self.clock())
        return report

    async def _hedge(self, pair_id: str, record: dict[str, Any], book: _Book, *, retry: bool = True) -> None:
        plan = book.plan
        for attempt in range(HEDGE_ATTEMPTS):
            net = book.net()
            if net is None:
                book.notes.append("An order's outcome is still unknown: residual not hedged until it is known.")
                return
            if net == 0:
                return
            # net > 0: bought more than sold; the short leg is the sell
            short, long_ = (plan.sell, plan.buy) if net > 0 else (plan.buy, plan.sell)
            excess = abs(net)
            if retry and attempt == 0 and self.orders.state.effective(short.venue) is TradingState.ACTIVE:
                req = OrderRequest(short.venue, plan.symbol, short.side, excess, short.price, tif=TimeInForce.IOC)
                pv = await self.orders.preview(req)
                if pv.ok and pv.request.size == excess:
                    book.notes.append(f"Retried the {short.side.value} leg on {short.venue} for {excess}.")
                    await self._send(pair_id, record, book, "retry", pv.request, reducing=False)
                    continue
                book.notes.append(f"Could not retry on {short.venue}: "
                                  + ("; ".join(r.message for r in pv.refusals) or "size not accepted"))
            # close the excess where it was bought (or sold) in excess: reduce-only, never blocked
            slip = max(plan.slippage, self.orders.settings.default_slippage)
            req = OrderRequest(long_.venue, plan.symbol, short.side, excess, None, tif=TimeInForce.IOC,
                               reduce_only=True, slippage=slip)
            book.notes.append(f"Closing the excess {excess} on {long_.venue} reduce-only.")
            await self._send(pair_id, record, book, "close", req, reducing=True)

    async def _send(self, pair_id: str, record: dict[str, Any], book: _Book, role: str, req: OrderRequest, *,
                    reducing: bool) -> None:
        cid = new_client_id()
        record["hedges"].append({"role": role, "venue": req.exchange, "symbol": req.symbol, "side": req.side.value,
                                 "client_id": cid})
        await self.store.update_pair(pair_id, "hedging", record, self.clock())  # known before it is sent
        req = OrderRequest(req.exchange, req.symbol, req.side, req.size, req.price, tif=req.tif,
                           reduce_only=req.reduce_only, slippage=req.slippage, client_id=cid)
        try:
            out: Order | BaseException = await self.orders.send(req, reducing=reducing, origin="pair",
                                                                extra={"pair": pair_id, "role": role})
        except Exception as exc:  # still looked up by client id: it may have reached the venue
            out = exc
        book.orders.append(await self._outcome(role, req.exchange, req.symbol, req.side, cid, out))

    async def _fees(self, o: Fillable) -> Decimal | None:
        """The venue's own fees of an order's fills, once every fill is stored (the stream may still be
        telling them); None until then."""
        stored = await self.store.get_order(o.client_id)
        if stored is None or not stored.order_id:
            return None
        fills = await self.store.fills_for_order(o.venue, stored.order_id)
        if sum((f.size for f in fills), ZERO) != o.filled:
            return None
        return sum((f.fee for f in fills), ZERO)

    async def _report(self, pair_id: str, book: _Book, skew: int | None) -> PairReport:
        net = book.net()
        plan = book.plan
        cash: Decimal | None = ZERO
        fees: Decimal | None = ZERO
        exact = True
        for o in book.orders:
            if o.filled is None or (o.filled and o.avg_price is None):
                cash = fees = None
                break
            if not o.filled or cash is None or fees is None:
                continue
            fee = await self._fees(o)
            if fee is None:  # not all told yet: the taker rate, and the report says it is an estimate
                exact = False
                fee = o.filled * (o.avg_price or ZERO) * self.orders.venue(o.venue).taker_fee
            cash += -o.side.sign * o.filled * (o.avg_price or ZERO) - fee
            fees += fee
        venue = None if not net else (plan.buy.venue if net > 0 else plan.sell.venue)
        return PairReport(pair_id, plan.symbol, tuple(book.orders), net, venue, cash, fees, skew, tuple(book.notes),
                          fees_from_fills=exact and fees is not None)

    # ---- restart ----
    async def recover(self) -> list[PairReport]:
        """Resolve every pair the bot died in the middle of: both legs (and any hedge) read by client id
        from the venues, the excess closed reduce-only."""
        out: list[PairReport] = []
        async with self._lock:
            for pair_id, _, record in await self.store.pairs_with_status(OPEN):
                plan, cids = plan_from(record)
                book = _Book(plan, notes=["Resumed after a restart."])
                for role, leg in (("buy", plan.buy), ("sell", plan.sell)):
                    book.orders.append(await self._look_up(role, leg.venue, leg.symbol, leg.side, cids[role]))
                for h in record.get("hedges", []):
                    book.orders.append(await self._look_up(h["role"], h["venue"], h["symbol"], Side(h["side"]),
                                                           h["client_id"]))
                await self._hedge(pair_id, record, book, retry=False)
                net = book.net()
                report = await self._report(pair_id, book, None)
                record["report"] = {"residual": None if net is None else str(net), "notes": book.notes}
                status = "done" if net == 0 else "residual" if net is not None else "hedging"
                await self.store.update_pair(pair_id, status, record, self.clock())
                out.append(report)
        return out


__all__ = ["LegPlan", "PairExecutor", "PairPlan", "PairReport", "plan_from", "plan_record"]
