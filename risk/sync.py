"""Keeping the store true to the venues: stream events, start-up reconciliation, adoption.

Orders the store does not know are adopted and reported, never cancelled or "corrected"; the
TP/SL legs a venue makes for one of our orders (Hyperliquid's normalTpsl children carry no client
id) are recognised as ours. Until a venue reconciles, it is REDUCING (no new exposure). What each
applied event did to an order is classified once (risk/order_changes.py) and handed to listeners.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from exchanges.errors import ExchangeError, OrderNotFoundError
from exchanges.models import Event, Fill, FillEvent, Order, OrderStatus, OrderType, OrderUpdate, StreamStatus
from risk.events import NOT_ON_VENUE, OrderAdopted, OrderResolved
from risk.order_changes import TRIGGERED_REASON, Change, classify
from risk.order_state import LIVE, merge, with_fills
from risk.orders import OrderManager

log = logging.getLogger(__name__)
NOT_RECONCILED = "not reconciled with the venue yet"
LEGS = {"tp": OrderType.TAKE_PROFIT, "sl": OrderType.STOP}
# where a TP/SL leg's parent can be: still working, or filled (the legs arm when it fills)
PARENT_STATES = (*LIVE, OrderStatus.FILLED)
LEGS_KEPT = 1024
LEG_SKEW_MS = 60_000  # the venue's clock against ours
Listener = Callable[[Event, Change | None, bool], None]


class OrderSync:
    def __init__(self, manager: OrderManager):
        self.m = manager
        self._deferred: list[Event] = []
        self.streams: dict[str, tuple[bool, int]] = {}  # venue -> (connected, last event ms)
        self.stream_why: dict[str, str] = {}  # venue -> what its stream last said of itself (e.g. why it dropped)
        # what was applied, for the alert layer: (event, what it did to an order, a new fill to tell or not)
        self.listeners: list[Listener] = []
        self.started_ms = manager.clock()
        self._new_venue: dict[str, bool] = {}  # venue -> its fills were never stored before this run
        self.imported: dict[str, int] = {}  # venue -> earlier fills stored without telling (a new database)
        self._legs_stored: OrderedDict[tuple[str, str], None] = OrderedDict()  # (parent client id, leg), bounded

    def _tell(self, event: Event, change: Change | None, new: bool) -> None:
        for fn in self.listeners:
            try:
                fn(event, change, new)
            except Exception:  # the alert layer must never break order bookkeeping
                log.exception("listener failed on %s", type(event).__name__)

    async def _find(self, venue: str, client_id: str | None, order_id: str | None) -> Order | None:
        store = self.m.store
        found = await store.get_order(client_id) if client_id else None
        if found is None and order_id:
            found = await store.get_order_by_venue_id(venue, order_id)
        return found

    async def _is_new_venue(self, venue: str) -> bool:
        """Whether the database had never stored a fill of this venue when this run began (decided
        before this run stores its first one), and holds no order of its own whose outcome is not known
        yet: a bot that died between sending its first order and hearing of it must tell that fill."""
        if venue not in self._new_venue:
            store = self.m.store
            self._new_venue[venue] = (await store.last_fill_ms(venue) is None
                                      and not await store.orders_with_status((OrderStatus.PENDING,
                                                                              OrderStatus.UNKNOWN), venue))
        return self._new_venue[venue]

    async def _adopted(self, order: Order | None) -> bool:
        """An order placed outside the bot (its update may beat its fills to the store)."""
        return order is not None and bool((await self.m.store.order_extra(order.client_id or "")).get("adopted"))

    async def handle(self, event: Event) -> None:
        """Apply one normalised stream event to the store. A fill delivered twice is applied once."""
        async with self.m.event_lock:
            if isinstance(event, FillEvent):
                fill = event.fill
                new_venue = await self._is_new_venue(fill.exchange)
                before, after, new = await self._fill(fill)
                if new and new_venue and fill.ts_ms < self.started_ms and (
                        after is None or await self._adopted(before)):
                    # history a new database is seeing for the first time: kept, not told fill by fill
                    self.imported[fill.exchange] = self.imported.get(fill.exchange, 0) + 1
                    new = False
                change = classify(before, after) if after is not None else None
                # a fill new to the store is told even when a stream snapshot brought it: after a restart
                # the first snapshot may beat the reconciliation to a fill the bot never told (history a
                # new database sees is kept quiet above; what was told before is in the store, not new)
                self._tell(event, change, new)
            elif isinstance(event, OrderUpdate):
                change = await self._update(event.order)
                if change is not None:
                    self._tell(event, change, False)
            else:
                self._tell(event, None, False)

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

    async def _update(self, report: Order) -> Change | None:
        stored = await self._find(report.exchange, report.client_id, report.order_id)
        if stored is None:
            if self.m.sending:
                self._deferred.append(OrderUpdate(report, report.updated_ms))
                return None
            leg = await self._leg_of_ours(report)
            found = await self._store_leg(*leg) if leg else await self._adopt(report)
            return classify(None, found)
        if (stored.status is OrderStatus.WAITING_TRIGGER and report.status is OrderStatus.OPEN
                and report.reason != TRIGGERED_REASON):
            # an update that only says "open" (Hyperliquid's order updates do not mark trigger orders)
            # is no news of a trigger firing: the order still waits
            report = replace(report, status=OrderStatus.WAITING_TRIGGER)
        ours = self.m.cancel_cause(report) if report.status is OrderStatus.CANCELED else None
        if ours is not None:
            report = replace(report, reason=ours.words)  # our own cancel, as the venue reports it
        merged = merge(stored, report)
        if merged is None:
            return None
        await self.m.store.update_order(merged)
        return classify(stored, merged, ours)

    async def replay_deferred(self) -> None:
        pending, self._deferred = self._deferred, []
        for ev in pending:
            if self.m.sending:
                self._deferred.append(ev)
            else:
                await self.handle(ev)

    async def _adopt(self, report: Order) -> Order:
        """An order placed outside the bot: tracked, never touched. One already finished (an outside
        market order that filled at once) is kept quietly: its fills tell it."""
        cid = report.client_id or f"ext-{report.exchange}-{report.order_id}"
        adopted = replace(report, client_id=cid)
        await self.m.store.insert_order(adopted, extra={"adopted": True})
        log.warning("adopted %s order %s %s %s (placed outside this bot)", report.exchange, report.symbol,
                    report.side, report.order_id)
        if not adopted.status.is_final:
            self.m.bus.publish(OrderAdopted(adopted, self.m.clock()))
        return adopted

    # ---- the TP/SL legs of our own orders ----
    async def _leg_of_ours(self, report: Order) -> tuple[Order, Order, str] | None:
        """(report, parent, "tp" | "sl") when `report` is a TP/SL leg the venue made for an order of ours
        that carried take_profit/stop_loss: same market, the other side, the parent's size. Newest
        parent first; a leg already stored is found before this is asked."""
        if report.client_id or report.status.is_final:
            return None
        parents = [o for o in await self.m.store.orders_with_status(PARENT_STATES, report.exchange)
                   if o.symbol == report.symbol and o.side is report.side.opposite and o.size == report.size
                   and o.client_id and not o.client_id.startswith("ext-")
                   and report.created_ms >= o.created_ms - LEG_SKEW_MS]  # a leg is never older than its parent
        for parent in reversed(parents):
            extra = await self.m.store.order_extra(parent.client_id or "")
            legs = [k for k in LEGS if extra.get(k) and (parent.client_id, k) not in self._legs_stored]
            if not legs:
                continue
            if report.order_type not in LEGS.values():
                # a stream update may not say it is a trigger order: the venue's own description does
                described = await self._described(report)
                if described is not None and described.order_type not in LEGS.values():
                    return None  # a plain order of the same size, placed outside the bot
                report = described or report
            leg = next((k for k in legs if LEGS[k] is report.order_type), legs[0])
            return report, parent, leg
        return None

    async def _described(self, report: Order) -> Order | None:
        """The venue's full description of an order (None: it could not be asked now)."""
        try:
            return await self.m.venue(report.exchange).order_status(report.symbol, order_id=report.order_id)
        except ExchangeError as exc:
            log.info("order %s could not be described: %s", report.order_id, exc)
            return None

    async def _store_leg(self, report: Order, parent: Order, leg: str) -> Order:
        extra = await self.m.store.order_extra(parent.client_id or "")
        waiting = report.status is OrderStatus.OPEN and report.reason != TRIGGERED_REASON
        order = replace(report, client_id=f"ext-{report.exchange}-{report.order_id}", order_type=LEGS[leg],
                        reduce_only=True, trigger_price=report.trigger_price or Decimal(extra[leg]),
                        status=OrderStatus.WAITING_TRIGGER if waiting else report.status)
        await self.m.store.insert_order(order, extra={"leg_of": parent.client_id, "leg": leg})
        self._legs_stored[(parent.client_id or "", leg)] = None
        while len(self._legs_stored) > LEGS_KEPT:
            self._legs_stored.popitem(last=False)
        log.info("%s order %s is the %s leg of %s", order.exchange, order.order_id, leg, parent.client_id)
        return order

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
        self._new_venue.setdefault(venue, since is None)
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
                if new and after is not None:  # found at start (the bot was down then): told like any other
                    self._tell(FillEvent(f), classify(before, after), True)
            venue_ids = {o.order_id for o in open_orders}
            for o in open_orders:
                stored = await self._find(venue, o.client_id, o.order_id)
                if stored is None:
                    leg = await self._leg_of_ours(o)
                    if leg:
                        await self._store_leg(*leg)
                    else:
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
                settled = await self.m.settle(order, gone)
                self.m.bus.publish(OrderResolved(settled, NOT_ON_VENUE, self.m.clock()))
                return settled
            return await self.m.resolve(order)
        except ExchangeError as exc:
            log.warning("could not settle %s: %s", order.client_id, exc)
            return order
        settled = await self.m.settle(order, found)
        self.m.bus.publish(OrderResolved(settled, "found on the venue", self.m.clock()))
        return settled
