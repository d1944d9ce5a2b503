"""OrderManager: the ONE way orders are placed, modified and cancelled.

preview -> (confirmation, elsewhere) -> place: checks again on fresh data, writes the intent row and
commits BEFORE the network call, sends with a client id, and never treats a timeout as a failure:
an order whose outcome is unknown is looked up by client id (grace period, bounded retries).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from exchanges.aio import gather_reads
from exchanges.base import Exchange
from exchanges.errors import ExchangeError, InvalidOrderError, InvalidSymbolError, OrderNotFoundError
from exchanges.models import (
    CANDLE_INTERVAL_MS,
    AccountBalances,
    Market,
    MarketKind,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from risk.events import NOT_ON_VENUE, Bus, OrderResolved, TradingState
from risk.limits import CheckContext, Limits, LossStatus, Refusal, run_checks
from risk.order_state import LIVE, merge, new_client_id
from risk.pnl import PnLTracker
from risk.quote import estimate_fill, liquidation_estimate, pearson, returns
from risk.settings import OrderSettings
from risk.state import StateBook
from store.db import Store

log = logging.getLogger(__name__)
ZERO = Decimal(0)
CANCEL_CAUSES_KEPT = 4096
# reasons of orders the bot itself did not send (the venue never saw them)
HALTED_BEFORE_SEND = "trading halted before the order was sent"
LEVERAGE_FAILED = "could not set leverage"


def rejected_before_sending(order: Order) -> bool:
    return order.status is OrderStatus.REJECTED and (order.reason or "").startswith((HALTED_BEFORE_SEND,
                                                                                    LEVERAGE_FAILED))
CANCEL_ALL_SLACK_MS = 5_000


class OrderRefused(Exception):
    def __init__(self, refusals: list[Refusal], preview: Preview | None = None):
        super().__init__("; ".join(r.message for r in refusals))
        self.refusals = refusals
        self.preview = preview


@dataclass(frozen=True)
class Preview:
    request: OrderRequest  # rounded, as it would be sent (without client id)
    market: Market | None
    mark: Decimal
    est_price: Decimal
    est_filled: Decimal
    notional: Decimal
    fee: Decimal
    margin: Decimal
    leverage: int
    position_before: Decimal
    position_after: Decimal
    liquidation_price: Decimal | None
    reducing: bool
    refusals: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ts_ms: int = 0

    @property
    def ok(self) -> bool:
        return not self.refusals


@dataclass(frozen=True)
class Placed:
    order: Order
    preview: Preview


class OrderManager:
    def __init__(self, exchanges: dict[str, Exchange], store: Store, state: StateBook, pnl: PnLTracker,
                 settings: OrderSettings, limits: Limits, bus: Bus, clock: Callable[[], int], *,
                 lookup_grace_s: float = 0.5, lookup_attempts: int = 5, answer_within_s: float = 2.0):
        self.exchanges = exchanges
        self.store = store
        self.state = state
        self.pnl = pnl
        self.settings = settings
        self.limits = limits
        self.bus = bus
        self.clock = clock
        self.lookup_grace_s = lookup_grace_s
        self.lookup_attempts = lookup_attempts
        self.answer_within_s = answer_within_s
        self._recent: deque[int] = deque()
        self._leverage_set: dict[tuple[str, str], int] = {}
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._correlation_cache: dict[tuple[str, str], tuple[int, list[Decimal]]] = {}
        self.event_lock = asyncio.Lock()
        self._resolving: dict[str, asyncio.Task[Order]] = {}
        # cancels we asked for, so the venue's report of them is not told as "cancelled by the venue":
        # order ids / client ids -> cause (bounded), and venue -> when its last cancel-all ended
        self._cancel_causes: OrderedDict[str, str] = OrderedDict()
        self._cancel_all_until: dict[str, tuple[int, str]] = {}

    # ---- helpers ----
    def venue(self, name: str) -> Exchange:
        try:
            return self.exchanges[name]
        except KeyError:
            raise InvalidSymbolError(f"exchange {name!r} is not enabled") from None

    def _orders_last_minute(self) -> int:
        cutoff = self.clock() - 60_000
        while self._recent and self._recent[0] < cutoff:
            self._recent.popleft()
        return len(self._recent)

    def _in_memory(self) -> bool:
        return all(ex.reads_in_memory() for ex in self.exchanges.values())

    async def _all_positions(self) -> tuple[list[Position], bool]:
        results = await gather_reads(*(ex.positions() for ex in self.exchanges.values()), return_exceptions=True,
                                     in_memory=self._in_memory())
        out: list[Position] = []
        complete = True
        for r in results:
            if isinstance(r, BaseException):
                complete = False
            else:
                out.extend(r)
        return out, complete

    async def _all_balances(self) -> dict[str, AccountBalances | None]:
        results = await gather_reads(*(ex.balances() for ex in self.exchanges.values()), return_exceptions=True,
                                     in_memory=self._in_memory())
        return {name: None if isinstance(r, BaseException) else r for name, r in zip(self.exchanges, results,
                                                                                   strict=True)}

    # ---- preview ----
    async def preview(self, req: OrderRequest) -> Preview:
        ex = self.venue(req.exchange)
        now = self.clock()
        try:
            market: Market | None = await ex.market(req.symbol)
        except InvalidSymbolError:
            market = None
        if market is None:
            ctx_refusal = Refusal("UNKNOWN_MARKET", f"{req.symbol} is not a market on {req.exchange}.")
            return Preview(req, None, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, 1, ZERO, ZERO, None, False,
                           [ctx_refusal], ts_ms=now)
        # one instant's view; from memory when every venue streams it (the order path's common case)
        book, ticker, balances, (positions, positions_ok) = await gather_reads(
            ex.order_book(req.symbol), ex.ticker(req.symbol), self._all_balances(), self._all_positions(),
            in_memory=ex.reads_in_memory(req.symbol) and self._in_memory())
        bal = balances[req.exchange]
        if bal is None:  # the venue we trade on must answer; raise its error
            bal = await ex.balances()
        equity = None if any(b is None for b in balances.values()) else sum(
            (b.equity for b in balances.values() if b is not None), ZERO)
        warnings: list[str] = []
        if not positions_ok:
            warnings.append("Positions of some exchange could not be read; counts may be incomplete.")
        mine = next((p for p in positions if p.exchange == req.exchange and p.symbol == req.symbol), None)
        if market.kind is MarketKind.SPOT:
            held = next((b for b in bal.spot if b.asset == market.base), None)
            before = held.total if held else ZERO
            quote = next((b for b in bal.spot if b.asset == market.quote), None)
            available = quote.available if quote else ZERO
            leverage = 1
        else:
            before = mine.size if mine else ZERO
            available = bal.withdrawable
            leverage = req.leverage or (mine.leverage if mine else self.settings.default_leverage)
        reducing = req.reduce_only or (before != 0 and req.side.sign * before < 0 and req.size <= abs(before))
        try:
            size = market.round_size(req.size)
            if req.price is not None:
                price = market.round_price_passive(req.price, req.side)
            else:
                price = None
        except InvalidOrderError as exc:
            return Preview(req, market, ticker.mark, ZERO, ZERO, ZERO, ZERO, ZERO, leverage, before, before, None,
                           reducing, [Refusal("PRECISION", exc.message)], ts_ms=now)
        slippage = req.slippage if req.slippage is not None else self.settings.default_slippage
        rounded = replace(req, size=size, price=price, slippage=slippage if price is None else req.slippage,
                          leverage=leverage if market.kind is MarketKind.PERP else None)
        # what can really fill: a reduce-only order is capped by the venue at the position it reduces
        fillable = size
        if req.reduce_only and before * req.side.sign < 0 and size > abs(before):
            fillable = abs(before)
            warnings.append(f"Reduce-only: only {fillable} (your position) can fill; the venue caps the rest.")
        maker_part = ZERO  # of `fillable`, what rests on the book and pays the maker fee when it fills
        if req.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT):
            # a trigger waits: nothing fills now; when it fires it trades at about its trigger, as a taker
            est, filled = price or req.trigger_price or ticker.mark, ZERO
        elif price is None:
            cap = market.round_price_aggressive(ticker.mid * (1 + slippage * req.side.sign), req.side)
            est, filled = estimate_fill(book, req.side, fillable, cap)
            if filled < fillable:
                warnings.append(f"The book within {slippage * 100:.2f}% holds only {filled} of {fillable}: the"
                                " rest would not fill.")
            est = est or cap
        elif req.tif is TimeInForce.ALO:  # post-only never takes: it rests or the venue refuses it
            est, filled, maker_part = price, ZERO, fillable
        else:
            est, filled = estimate_fill(book, req.side, fillable, price)
            if req.tif is not TimeInForce.IOC:
                maker_part = fillable - filled
            est = est if filled > 0 else price
        ctx = CheckContext(
            request=rounded, market=market, state=self.state.effective(req.exchange), reducing=reducing,
            price=est if price is None else price, mark=ticker.mark, leverage=leverage, position_before=before,
            equity=equity, available_margin=available, positions=tuple(positions),
            data_age_ms=max(0, now - ticker.ts_ms), orders_last_minute=self._orders_last_minute(),
            loss=self.pnl.status() if self.pnl.started else LossStatus(ZERO, Decimal(1), ZERO, Decimal(1)),
            correlations=await self._correlations(rounded, positions) if not reducing else {},
            limits=self.limits,
        )
        refusals = run_checks(ctx)
        if market.kind is MarketKind.SPOT and not reducing:
            margin = ctx.notional
        else:
            margin = ctx.margin_required
        after = before + fillable * req.side.sign
        entry = est if before == 0 or (before > 0) != (after > 0) else (
            (abs(before) * (mine.entry_price if mine else est) + fillable * est) / (abs(before) + fillable)
            if (before > 0) == (req.side is Side.BUY) else (mine.entry_price if mine else est))
        liq = (liquidation_estimate(after, entry, bal.account_value, market.max_leverage)
               if market.kind is MarketKind.PERP else None)
        taker_part = fillable - maker_part
        fee = est * taker_part * ex.taker_fee + (price or est) * maker_part * ex.maker_fee
        return Preview(
            request=rounded, market=market, mark=ticker.mark, est_price=est,
            est_filled=filled,
            notional=est * fillable, fee=fee, margin=margin, leverage=leverage,
            position_before=before, position_after=after, liquidation_price=liq, reducing=reducing,
            refusals=refusals, warnings=warnings, ts_ms=now,
        )

    async def _correlations(self, req: OrderRequest, positions: list[Position]) -> dict[str, Decimal]:
        same_dir = [p for p in positions if p.size != 0 and (p.size > 0) == (req.side is Side.BUY)
                    and not (p.exchange == req.exchange and p.symbol == req.symbol)]
        if not same_dir or self.limits.correlation_limit >= 1:
            return {}
        mine = await self._returns(req.exchange, req.symbol)
        out: dict[str, Decimal] = {}
        for p in same_dir:
            theirs = await self._returns(p.exchange, p.symbol)
            corr = pearson(mine, theirs) if mine and theirs else None
            if corr is not None:
                out[p.symbol] = corr
        return out

    async def _returns(self, venue: str, symbol: str) -> list[Decimal]:
        now = self.clock()
        cached = self._correlation_cache.get((venue, symbol))
        if cached and now - cached[0] < 300_000:
            return cached[1]
        interval = self.settings.correlation_interval
        span = CANDLE_INTERVAL_MS[interval] * (self.settings.correlation_window + 1)
        try:
            candles = await self.venue(venue).candles(symbol, interval, now - span, now)
        except ExchangeError:
            return []
        r = returns([c.close for c in candles])
        self._correlation_cache[(venue, symbol)] = (now, r)
        return r

    # ---- place ----
    async def place(self, req: OrderRequest, *, origin: str = "") -> Placed:
        """Preview on fresh data and, if every check passes, send."""
        return await self.execute(await self.preview(req), origin=origin)

    async def execute(self, pv: Preview, *, origin: str = "", also: Callable[[Any], object] | None = None,
                      extra: dict[str, Any] | None = None) -> Placed:
        """Send a preview just made on fresh data (the confirm path re-previews, then executes).
        `also` is a step of the intent's transaction (the desk uses the confirmation there); if it
        raises, nothing is written or sent and its exception propagates."""
        if not pv.ok:
            raise OrderRefused(pv.refusals, pv)
        return Placed(await self.send(pv.request, reducing=pv.reducing, origin=origin, also=also, extra=extra), pv)

    async def send(self, req: OrderRequest, *, reducing: bool, origin: str = "",
                   also: Callable[[Any], object] | None = None, look_up: bool = True,
                   extra: dict[str, Any] | None = None) -> Order:
        """Intent row, commit, then the network. Callers other than place() are the kill switch's
        flatten (reduce-only) path; nothing else reaches an adapter's place(). An unknown outcome is
        looked up by client id in the background; the caller waits for that lookup at most
        answer_within_s (`look_up=False`: not at all, the kill switch must not wait a lookup cycle per
        attempt) and otherwise gets the order as UNKNOWN; the lookup's result is published. `extra` is
        kept with the order (e.g. where its preview was shown, so its result can be told there even
        after a restart)."""
        ex = self.venue(req.exchange)
        cid = req.client_id or new_client_id()
        req = replace(req, client_id=cid)
        now = self.clock()
        intent = Order(
            exchange=req.exchange, symbol=req.symbol, side=req.side, size=req.size, price=req.price,
            status=OrderStatus.PENDING, client_id=cid, order_type=req.order_type if req.price is not None
            or req.order_type is not OrderType.LIMIT else OrderType.MARKET, tif=req.tif,
            reduce_only=req.reduce_only, trigger_price=req.trigger_price, created_ms=now, updated_ms=now,
        )
        legs = {k: str(v) for k, v in (("tp", req.take_profit), ("sl", req.stop_loss)) if v is not None}
        await self.store.insert_order(intent, extra={"origin": origin, "slippage": str(req.slippage or ""),
                                                     **legs, **(extra or {})}, also=also)  # legs: risk/sync.py
        self._recent.append(now)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[cid] = done
        try:
            # the kill switch may have fired while the intent was being written
            if not reducing and self.state.effective(req.exchange) is not TradingState.ACTIVE:
                return await self._finish(intent, replace(intent, status=OrderStatus.REJECTED,
                                                          reason=HALTED_BEFORE_SEND))
            if req.leverage and not reducing:
                try:
                    await self._ensure_leverage(ex, req.symbol, req.leverage)
                except ExchangeError as exc:  # the order itself was not sent
                    return await self._finish(intent, replace(intent, status=OrderStatus.REJECTED,
                                                              reason=f"{LEVERAGE_FAILED}: {exc.raw}"))
            try:
                async with asyncio.timeout(self.settings.order_timeout_s):
                    sent = await ex.place(req)
            except (TimeoutError, ExchangeError) as exc:
                if isinstance(exc, ExchangeError) and not exc.outcome_unknown:
                    return await self._finish(intent, replace(intent, status=OrderStatus.REJECTED,
                                                              reason=exc.raw, updated_ms=self.clock()))
                log.warning("order %s outcome unknown (%s): looking it up by client id", cid, exc or "timeout")
                unknown = replace(intent, status=OrderStatus.UNKNOWN, updated_ms=self.clock())
                await self._finish(intent, unknown)
                lookup = self._resolve_later(unknown)
                if not look_up:
                    return unknown
                # the trader waits for at most answer_within_s; past that the answer says it is being
                # checked, and the lookup goes on (its result is published when known)
                answered, _ = await asyncio.wait([lookup], timeout=self.answer_within_s)
                return lookup.result() if answered else unknown
            return await self._finish(intent, sent)
        finally:
            self._inflight.pop(cid, None)
            done.set_result(None)

    def _resolve_later(self, order: Order) -> asyncio.Task[Order]:
        """The background lookup of an order whose outcome is unknown (one per order)."""
        cid = order.client_id or ""
        task = self._resolving.get(cid)
        if task is None:
            task = asyncio.get_running_loop().create_task(self.resolve(order), name=f"resolve-{cid}")
            self._resolving[cid] = task
            task.add_done_callback(lambda _: self._resolving.pop(cid, None))
        return task

    async def resolve_unknown(self) -> int:
        """Look up, in the background, every order whose outcome is still unknown (a lost answer, a
        timeout), without waiting for a restart. Returns how many lookups were started."""
        started = 0
        for o in await self.store.orders_with_status([OrderStatus.UNKNOWN]):
            if o.client_id and o.client_id not in self._resolving and o.client_id not in self._inflight:
                self._resolve_later(o)
                started += 1
        return started

    async def close(self) -> None:
        tasks = list(self._resolving.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _ensure_leverage(self, ex: Exchange, symbol: str, leverage: int) -> None:
        if self._leverage_set.get((ex.name, symbol)) != leverage:
            await ex.set_leverage(symbol, leverage)
            self._leverage_set[(ex.name, symbol)] = leverage

    async def _finish(self, intent: Order, report: Order) -> Order:
        """Fold a venue report into the stored order (read, merge, write: one transaction)."""
        async with self.event_lock:
            stored = await self.store.merge_order(
                intent.client_id or "", lambda old: merge(old, replace(report, client_id=old.client_id)))
            return stored if stored is not None else intent

    async def resolve(self, order: Order) -> Order:
        """Find out what became of an order whose outcome is unknown. Never resends it."""
        ex = self.venue(order.exchange)
        delay = self.lookup_grace_s
        for attempt in range(self.lookup_attempts):
            await asyncio.sleep(delay)
            try:
                found = await ex.order_status(order.symbol, client_id=order.client_id)
            except OrderNotFoundError:
                continue
            except ExchangeError as exc:
                log.warning("lookup of %s failed (attempt %d): %s", order.client_id, attempt + 1, exc)
                delay = min(delay * 2, 5.0)
                continue
            resolved = await self._finish(order, found)
            self.bus.publish(OrderResolved(resolved, "found on the venue", self.clock()))
            return resolved
        if order.status is OrderStatus.PENDING or await self._confirmed_absent(ex, order):
            gone = replace(order, status=OrderStatus.REJECTED, updated_ms=self.clock(),
                           reason="never reached the venue (not found by client id)")
            resolved = await self._finish(order, gone)
            self.bus.publish(OrderResolved(resolved, NOT_ON_VENUE, self.clock()))
            return resolved
        return await self.store.get_order(order.client_id or "") or order

    async def _confirmed_absent(self, ex: Exchange, order: Order) -> bool:
        """Not found by client id after the grace period, and not among open orders or recent fills."""
        try:
            if any(o.client_id == order.client_id for o in await ex.open_orders()):
                return False
            return not any(f.client_id == order.client_id for f in await ex.fills(order.created_ms - 60_000))
        except ExchangeError:
            return False

    @property
    def sending(self) -> bool:
        """Orders are on their way to a venue: an event about them may arrive before the answer."""
        return bool(self._inflight)

    async def wait_inflight(self, limit_s: float) -> None:
        """Let orders already past their checks land (or fail) before the kill switch sweeps."""
        pending = list(self._inflight.values())
        if pending:
            await asyncio.wait(pending, timeout=limit_s)

    # ---- cancels, closes, leverage (never blocked by limits or state) ----
    def _note_cancel(self, venue: str, key: str | None, cause: str) -> None:
        if key:
            self._cancel_causes[f"{venue}:{key}"] = cause
            while len(self._cancel_causes) > CANCEL_CAUSES_KEPT:
                self._cancel_causes.popitem(last=False)

    def cancel_cause(self, order: Order) -> str | None:
        """Why an order we asked to cancel was cancelled ("cancelled by you", "cancelled by the kill
        switch"), or None when the cancel was not ours (the venue, the web app, a trigger)."""
        for key in (order.order_id, order.client_id):
            if key and (cause := self._cancel_causes.get(f"{order.exchange}:{key}")):
                return cause
        window = self._cancel_all_until.get(order.exchange)
        if window is not None and (window[0] == 0 or self.clock() - window[0] <= CANCEL_ALL_SLACK_MS):
            return window[1]  # a cancel-all of ours was running, or ended a moment ago
        return None

    async def cancel(self, venue: str, symbol: str, *, order_id: str | None = None,
                     client_id: str | None = None, cause: str = "cancelled by you") -> None:
        self._note_cancel(venue, order_id or client_id, cause)
        await self.venue(venue).cancel(symbol, order_id=order_id, client_id=client_id)
        stored = (await self.store.get_order(client_id) if client_id
                  else await self.store.get_order_by_venue_id(venue, order_id or ""))
        if stored is not None:
            await self._finish(stored, replace(stored, status=OrderStatus.CANCELED, reason=cause,
                                               updated_ms=self.clock()))

    async def cancel_all(self, venue: str, symbol: str | None = None, *, fresh: bool = False,
                         cause: str = "cancelled by you") -> list[Order]:
        self._cancel_all_until[venue] = (0, cause)  # open: the venue's reports may beat its answer
        try:
            cancelled = await self.venue(venue).cancel_all(symbol, fresh=fresh)
        finally:
            self._cancel_all_until[venue] = (self.clock(), cause)
        for o in cancelled:
            self._note_cancel(venue, o.order_id, cause)
            stored = ((await self.store.get_order(o.client_id)) if o.client_id else None) or (
                await self.store.get_order_by_venue_id(venue, o.order_id or ""))
            if stored is not None:
                await self._finish(stored, replace(stored, status=OrderStatus.CANCELED, updated_ms=self.clock(),
                                                   reason=cause))
        return cancelled

    def close_request(self, position: Position, fraction: Decimal = Decimal(1),
                      slippage: Decimal | None = None) -> OrderRequest:
        """A reduce-only IOC market order that closes `fraction` of a position."""
        return OrderRequest(
            exchange=position.exchange, symbol=position.symbol, side=Side.SELL if position.size > 0 else Side.BUY,
            size=abs(position.size) * fraction, price=None, tif=TimeInForce.IOC, reduce_only=True,
            slippage=slippage if slippage is not None else self.settings.default_slippage,
        )

    async def set_leverage(self, venue: str, symbol: str, leverage: int, *, cross: bool = True) -> None:
        market = await self.venue(venue).market(symbol)
        cap = min(self.limits.max_leverage, market.max_leverage)
        if not 1 <= leverage <= cap:
            raise OrderRefused([Refusal("LEVERAGE", f"Leverage {leverage}x is outside 1x to {cap}x.")])
        await self.venue(venue).set_leverage(symbol, leverage, cross=cross)
        self._leverage_set[(venue, symbol)] = leverage

    async def live_orders(self, venue: str | None = None) -> list[Order]:
        return await self.store.orders_with_status(LIVE, venue)
