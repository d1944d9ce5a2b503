"""Keeping the store true to the venues: stream events, start-up reconciliation, adoption.

Orders the store does not know are adopted and reported, never cancelled or "corrected". Until a
venue reconciles, it is REDUCING (no new exposure).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from exchanges.errors import ExchangeError, OrderNotFoundError
from exchanges.models import Event, Fill, FillEvent, Order, OrderStatus, OrderUpdate, StreamStatus
from risk.events import NOT_ON_VENUE, OrderAdopted, OrderResolved
from risk.order_state import LIVE, merge, with_fills
from risk.orders import OrderManager

log = logging.getLogger(__name__)
NOT_RECONCILED = "not reconciled with the venue yet"


class OrderSync:
    def __init__(self, manager: OrderManager):
        self.m = manager
        self._deferred: list[Event] = []
        self.reports: dict[str, dict[str, object]] = {}
        self.streams: dict[str, tuple[bool, int]] = {}  # venue -> (connected, last event ms)
        self.stream_why: dict[str, str] = {}  # venue -> what its stream last said of itself (e.g. why it dropped)
        # what was applied, for the alert layer: (event, order before, order after, new fill or not)
        self.listeners: list[Callable[[Event, Order | None, Order | None, bool], None]] = []

    def _tell(self, event: Event, before: Order | None, after: Order | None, new: bool) -> None:
        for fn in self.listeners:
            try:
                fn(event, before, after, new)
            except Exception:  # the alert layer must never break order bookkeeping
                log.exception("listener failed on %s", type(event).__name__)

    async def _find(self, venue: str, client_id: str | None, order_id: str | None) -> Order | None:
        store = self.m.store
        found = await store.get_order(client_id) if client_id else None
        if found is None and order_id:
            found = await store.get_order_by_venue_id(venue, order_id)
        return found

    async def handle(self, event: Event) -> None:
        """Apply one normalised stream event to the store. A fill delivered twice is applied once."""
        async with self.m.event_lock:
            if isinstance(event, FillEvent):
                before, after, new = await self._fill(event.fill)
                self._tell(event, before, after, new and not event.is_snapshot)
            elif isinstance(event, OrderUpdate):
                before, after = await self._update(event.order)
                if after is not None:
                    self._tell(event, before, after, False)
            else:
                self._tell(event, None, None, False)

    async def _fill(self, fill: Fill) -> tuple[Order | None, Order | None, bool]:
        order = await self._find(fill.exchange, fill.client_id, fill.order_id)
        if order is None:
            if self.m.sending:
                self._deferred.append(FillEvent(fill))
                return None, None, False
            return None, None, await self.m.store.add_fill(fill)
        fills = [f for f in await self.m.store.fills_for_order(fill.exchange, fill.order_id)
                 if f.fill_id != fill.fill_id] + [fill]
        moved = with_fills(replace(order, order_id=order.order_id or fill.order_id), fills, fill.ts_ms)
        new = await self.m.store.add_fill(fill, moved if moved != order else None)
        return order, moved, new

    async def _update(self, report: Order) -> tuple[Order | None, Order | None]:
        stored = await self._find(report.exchange, report.client_id, report.order_id)
        if stored is None:
            if self.m.sending:
                self._deferred.append(OrderUpdate(report, report.updated_ms))
                return None, None
            return None, await self._adopt(report)
        if report.status is OrderStatus.CANCELED and (cause := self.m.cancel_cause(report)) is not None:
            report = replace(report, reason=cause)  # our own cancel, as the venue reports it
        merged = merge(stored, report)
        if merged is not None:
            await self.m.store.update_order(merged)
        return stored, merged

    async def replay_deferred(self) -> None:
        pending, self._deferred = self._deferred, []
        for ev in pending:
            if self.m.sending:
                self._deferred.append(ev)
            else:
                await self.handle(ev)

    async def _adopt(self, report: Order) -> Order:
        cid = report.client_id or f"ext-{report.exchange}-{report.order_id}"
        adopted = replace(report, client_id=cid)
        await self.m.store.insert_order(adopted, extra={"adopted": True})
        log.warning("adopted %s order %s %s %s (placed outside this bot)", report.exchange, report.symbol,
                    report.side, report.order_id)
        self.m.bus.publish(OrderAdopted(adopted, self.m.clock()))
        return adopted

    async def run(self, venue: str) -> None:
        """Consume a venue's event stream until cancelled."""
        async for ev in self.m.venue(venue).events():
            connected = ev.connected if isinstance(ev, StreamStatus) else self.streams.get(venue, (True, 0))[0]
            self.streams[venue] = (connected, self.m.clock())
            if isinstance(ev, StreamStatus):
                self.stream_why[venue] = ev.reason
            try:
                await self.handle(ev)
                if self._deferred and not self.m.sending:
                    await self.replay_deferred()
            except Exception:  # one bad event must not stop the stream
                log.exception("failed to apply %s from %s", type(ev).__name__, venue)

    # ---- reconciliation ----
    async def reconcile(self, venue: str) -> dict[str, object]:
        """Compare the store with the venue; adopt what we do not know; settle what we lost track of."""
        m = self.m
        m.state.block_venue(venue, NOT_RECONCILED)
        ex = m.venue(venue)
        since = await m.store.last_fill_ms(venue)
        open_orders, fills = await asyncio.gather(ex.open_orders(), ex.fills((since or 0) - 60_000))
        adopted: list[Order] = []
        resolved: list[Order] = []
        added = 0
        async with m.event_lock:
            for f in sorted(fills, key=lambda f: (f.ts_ms, f.fill_id)):
                known = await self._find(venue, f.client_id, f.order_id)
                if known is None:
                    continue  # fills of adopted orders are stored once the order row exists (below)
                before, after, new = await self._fill(f)
                added += new
                if new:  # found at start (the bot was down when it happened): told like any other fill
                    self._tell(FillEvent(f), before, after, True)
            venue_ids = {o.order_id for o in open_orders}
            for o in open_orders:
                stored = await self._find(venue, o.client_id, o.order_id)
                if stored is None:
                    adopted.append(await self._adopt(o))
                elif (merged := merge(stored, o)) is not None:
                    await m.store.update_order(merged)
            for f in fills:
                if await m.store.get_order_by_venue_id(venue, f.order_id) and f.client_id is None:
                    await self._fill(f)
            live = [o for o in await m.store.orders_with_status(LIVE, venue) if o.order_id not in venue_ids]
        for o in live:
            resolved.append(await self._settle(o))
        report: dict[str, object] = {"venue": venue, "adopted": adopted, "resolved": resolved, "fills_added": added}
        self.reports[venue] = report
        m.state.unblock_venue(venue)
        return report

    async def _settle(self, order: Order) -> Order:
        """A live order in the store that the venue no longer lists as open."""
        ex = self.m.venue(order.exchange)
        try:
            found = await ex.order_status(order.symbol, client_id=order.client_id, order_id=None
                                          if order.client_id and not order.client_id.startswith("ext-")
                                          else order.order_id)
        except OrderNotFoundError:
            if order.status is OrderStatus.PENDING:
                gone = replace(order, status=OrderStatus.REJECTED, updated_ms=self.m.clock(),
                               reason="never reached the venue (the bot stopped before sending it)")
                settled = await self.m._finish(order, gone)
                self.m.bus.publish(OrderResolved(settled, NOT_ON_VENUE, self.m.clock()))
                return settled
            return await self.m.resolve(order)
        except ExchangeError as exc:
            log.warning("could not settle %s: %s", order.client_id, exc)
            return order
        settled = await self.m._finish(order, found)
        self.m.bus.publish(OrderResolved(settled, "found on the venue", self.m.clock()))
        return settled
