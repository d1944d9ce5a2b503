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
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from exchanges.base import Exchange
from exchanges.errors import ExchangeError, OrderNotFoundError, VenueUnavailable
from exchanges.models import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from risk.events import NOT_ON_VENUE, Bus, OrderResolved, TradingState
from risk.limits import Limits, Refusal
from risk.order_changes import Cause
from risk.order_state import merge, new_client_id
from risk.pnl import PnLTracker
from risk.pretrade import OrderRefused, PreTrade, Preview
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
        self.event_lock = asyncio.Lock()
        self._resolving: dict[str, asyncio.Task[Order]] = {}
        # cancels we asked for, so the venue's report of them is not told as "cancelled by the venue":
        # order ids / client ids -> cause (bounded), and venue -> when its last cancel-all ended
        self._cancel_causes: OrderedDict[str, Cause] = OrderedDict()
        self._cancel_all_until: dict[str, tuple[int, Cause]] = {}
        self.pretrade = PreTrade(exchanges, state, pnl, settings, limits, clock, self.orders_last_minute)

    # ---- helpers ----
    def venue(self, name: str) -> Exchange:
        return self.pretrade.venue(name)  # InvalidSymbolError for a venue not enabled

    def orders_last_minute(self) -> int:
        cutoff = self.clock() - 60_000
        while self._recent and self._recent[0] < cutoff:
            self._recent.popleft()
        return len(self._recent)

    async def preview(self, req: OrderRequest) -> Preview:
        """What `req` would do and whether every check lets it through (nothing is sent)."""
        return await self.pretrade.preview(req)

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

    def _intent(self, req: OrderRequest, origin: str,
                extra: dict[str, Any] | None) -> tuple[OrderRequest, Order, dict[str, Any]]:
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
        row = {"origin": origin, "slippage": str(req.slippage or ""), **legs, **(extra or {})}  # legs: risk/sync.py
        return req, intent, row

    async def send(self, req: OrderRequest, *, reducing: bool, origin: str = "",
                   also: Callable[[Any], object] | None = None, look_up: bool = True,
                   extra: dict[str, Any] | None = None) -> Order:
        """Intent row, commit, then the network. Callers other than place() are the kill switch's
        flatten (reduce-only) path and the pairs' legs; nothing else reaches an adapter's place(). An
        unknown outcome is looked up by client id in the background; the caller waits for that lookup at
        most answer_within_s (`look_up=False`: not at all, the kill switch must not wait a lookup cycle
        per attempt) and otherwise gets the order as UNKNOWN; the lookup's result is published. `extra`
        is kept with the order (e.g. where its preview was shown, so its result can be told there even
        after a restart)."""
        req, intent, row = self._intent(req, origin, extra)
        await self.store.insert_order(intent, extra=row, also=also)
        return await self._dispatch(req, intent, reducing=reducing, look_up=look_up)

    async def send_together(self, reqs: list[tuple[OrderRequest, dict[str, Any]]], *, origin: str = "",
                            also: Callable[[Any], object] | None = None,
                            sent_at: Callable[[str], None] | None = None) -> list[Order | BaseException]:
        """Several orders (the legs of a pair): every intent, and `also`, committed in ONE transaction
        before any is sent, then all sent at once. Results in order; an exception where a leg raised.
        `sent_at(client_id)` is called just before each leg goes to its venue (the legs' skew)."""
        built = [self._intent(req, origin, extra) for req, extra in reqs]
        await self.store.insert_orders([(intent, row) for _, intent, row in built], also=also)
        return list(await asyncio.gather(*(self._dispatch(req, intent, reducing=False, sent_at=sent_at)
                                           for req, intent, _ in built), return_exceptions=True))

    async def _dispatch(self, req: OrderRequest, intent: Order, *, reducing: bool, look_up: bool = True,
                        sent_at: Callable[[str], None] | None = None) -> Order:
        """An intent already committed: to the venue, and its outcome into the row."""
        ex = self.venue(req.exchange)
        cid = intent.client_id or ""
        self._recent.append(intent.created_ms)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[cid] = done
        try:
            # the kill switch may have fired while the intent was being written
            if not reducing and self.state.effective(req.exchange) is not TradingState.ACTIVE:
                return await self.settle(intent, replace(intent, status=OrderStatus.REJECTED,
                                                         reason=HALTED_BEFORE_SEND))
            if req.leverage and not reducing:
                try:
                    await self._ensure_leverage(ex, req.symbol, req.leverage)
                except ExchangeError as exc:  # the order itself was not sent
                    return await self.settle(intent, replace(intent, status=OrderStatus.REJECTED,
                                                             reason=f"{LEVERAGE_FAILED}: {exc.raw}"))
            if sent_at is not None:
                sent_at(cid)
            try:
                async with asyncio.timeout(self.settings.order_timeout_s):
                    sent = await ex.place(req)
            except (TimeoutError, ExchangeError) as exc:
                if isinstance(exc, ExchangeError) and not exc.outcome_unknown:
                    return await self.settle(intent, replace(intent, status=OrderStatus.REJECTED,
                                                             reason=exc.raw, updated_ms=self.clock()))
                log.warning("order %s outcome unknown (%s): looking it up by client id", cid, exc or "timeout")
                unknown = replace(intent, status=OrderStatus.UNKNOWN, updated_ms=self.clock())
                await self.settle(intent, unknown)
                lookup = self._resolve_later(unknown)
                if not look_up:
                    return unknown
                # the trader waits for at most answer_within_s; past that the answer says it is being
                # checked, and the lookup goes on (its result is published when known)
                answered, _ = await asyncio.wait([lookup], timeout=self.answer_within_s)
                return lookup.result() if answered else unknown
            return await self.settle(intent, sent)
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

    async def settle(self, intent: Order, report: Order) -> Order:
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
            except VenueUnavailable as exc:
                log.warning("lookup of %s failed (attempt %d): %s", order.client_id, attempt + 1, exc)
                # our breaker says when it probes the venue again: look right after, not sooner, not later
                delay = exc.retry_after + 0.05 if exc.retry_after else min(delay * 2, 5.0)
                continue
            except ExchangeError as exc:
                log.warning("lookup of %s failed (attempt %d): %s", order.client_id, attempt + 1, exc)
                delay = min(delay * 2, 5.0)
                continue
            resolved = await self.settle(order, found)
            self.bus.publish(OrderResolved(resolved, "found on the venue", self.clock()))
            return resolved
        if order.status is OrderStatus.PENDING or await self._confirmed_absent(ex, order):
            gone = replace(order, status=OrderStatus.REJECTED, updated_ms=self.clock(),
                           reason="never reached the venue (not found by client id)")
            resolved = await self.settle(order, gone)
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
    def _note_cancel(self, venue: str, key: str | None, cause: Cause) -> None:
        if key:
            self._cancel_causes[f"{venue}:{key}"] = cause
            while len(self._cancel_causes) > CANCEL_CAUSES_KEPT:
                self._cancel_causes.popitem(last=False)

    def cancel_cause(self, order: Order) -> Cause | None:
        """Why an order we asked to cancel was cancelled, or None when the cancel was not ours (the
        venue, the web app, a trigger)."""
        for key in (order.order_id, order.client_id):
            if key and (cause := self._cancel_causes.get(f"{order.exchange}:{key}")):
                return cause
        window = self._cancel_all_until.get(order.exchange)
        if window is not None and (window[0] == 0 or self.clock() - window[0] <= CANCEL_ALL_SLACK_MS):
            return window[1]  # a cancel-all of ours was running, or ended a moment ago
        return None

    async def cancel(self, venue: str, symbol: str, *, order_id: str | None = None,
                     client_id: str | None = None, cause: Cause = Cause.YOU) -> None:
        self._note_cancel(venue, order_id or client_id, cause)
        await self.venue(venue).cancel(symbol, order_id=order_id, client_id=client_id)
        stored = (await self.store.get_order(client_id) if client_id
                  else await self.store.get_order_by_venue_id(venue, order_id or ""))
        if stored is not None:
            await self.settle(stored, replace(stored, status=OrderStatus.CANCELED, reason=cause.words,
                                              updated_ms=self.clock()))

    async def cancel_all(self, venue: str, symbol: str | None = None, *, fresh: bool = False,
                         cause: Cause = Cause.YOU) -> list[Order]:
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
                await self.settle(stored, replace(stored, status=OrderStatus.CANCELED, updated_ms=self.clock(),
                                                  reason=cause.words))
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
