"""What the trader hears about, and how: venue events and risk notices become alerts.

Fills of one order arriving within `coalesce_s` become one message with exact totals; an order the
venue already reports complete (an outside market order that swept the book) is told once, when
its fills are in. What an order-state change was comes from risk/order_changes.py only; the bot's
own cancels are not news. A stream that drops is only reported when it stays down past a grace
period (a 2-second blip is silent). Orders placed outside the bot are told once per burst. Alerts
about risk carry the KILL button. Every text is built by a pure function in handlers/alert_texts.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from desk.notifier import REPLIES, Notifier
from exchanges.aio import within
from exchanges.errors import ExchangeError
from exchanges.models import (
    Event,
    Fill,
    FillEvent,
    Liquidation,
    Market,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    StreamStatus,
    TimeInForce,
)
from handlers.alert_texts import (
    adopted_text,
    change_text,
    describe,
    fill_text,
    holding_line,
    is_spot,
    liquidation_text,
    resolved_text,
    stream_lost_text,
    stream_restored_text,
)
from handlers.keyboards import FLATTEN_CHOICE
from handlers.views import kill_view
from risk.events import (
    KillReport,
    LimitBreached,
    LossWarning,
    Notice,
    NoticeBatch,
    OrderAdopted,
    OrderResolved,
    StateChanged,
    TradingState,
)
from risk.order_changes import Change, Kind
from risk.service import Risk

log = logging.getLogger(__name__)
ZERO = Decimal(0)
COMPLETE_WAIT_S = 2.0  # at most this long for the rest of the fills of an order the venue says is done
RECHECK_S = 0.1
ADOPTED_LISTED = 5  # outside orders whose markets are looked up for their message (the rest are counted)
KEPT = 1024  # orders looked up for their fill alerts, remembered (bounded)
TOLD_CHANGES = frozenset({Kind.TRIGGERED, Kind.CANCELLED_BY_VENUE, Kind.REJECTED})  # the rest: told elsewhere


class AlertRouter:
    def __init__(self, notifier: Notifier, risk: Risk, clock: Callable[[], int], *, coalesce_s: float = 0.3,
                 stream_grace_s: float = 10.0):
        self.n, self.risk, self.clock = notifier, risk, clock
        self.coalesce_s, self.stream_grace_s = coalesce_s, stream_grace_s
        self._fills: dict[tuple[str, str], list[Fill]] = {}
        self._orders: dict[tuple[str, str], Order | None] = {}
        self._since: dict[tuple[str, str], float] = {}  # loop time of the oldest fill not told yet
        self._looked_up: OrderedDict[tuple[str, str], Order | None] = OrderedDict()
        self._adopted: dict[str, list[Order]] = {}
        self._adopt_timer: dict[str, asyncio.TimerHandle] = {}
        self._stream_down: dict[str, asyncio.TimerHandle] = {}
        self._stream_alerted: set[str] = set()
        self._tasks: set[asyncio.Task[object]] = set()
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._flushing: set[tuple[str, str]] = set()
        self._closing = False
        risk.bus.subscribe(self.on_notice)
        risk.sync.listeners.append(self.on_event)

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Send what is being coalesced now and wait for alerts being composed (tests, shutdown)."""
        self._closing = True
        while self._timers or self._tasks or self._adopt_timer:
            for key, timer in list(self._timers.items()):
                timer.cancel()
                self._timers.pop(key, None)
                self._spawn(self._flush_fills(key))
            for venue, timer in list(self._adopt_timer.items()):
                timer.cancel()
                self._adopt_timer.pop(venue, None)
                self._spawn(self._flush_adopted(venue))
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for timer in self._stream_down.values():
            timer.cancel()
        self._stream_down.clear()

    async def _market(self, venue: str, symbol: str) -> Market | None:
        try:
            return await self.risk.orders.venue(venue).market(symbol)
        except Exception:  # the alert goes out with plain numbers rather than not at all
            return None

    # ---- venue events ----
    def on_event(self, event: Event, change: Change | None, new_fill: bool) -> None:
        if isinstance(event, FillEvent) and new_fill:
            key = (event.fill.exchange, event.fill.order_id)
            self._fills.setdefault(key, []).append(event.fill)
            self._since.setdefault(key, asyncio.get_running_loop().time())
            self._orders[key] = change.after if change is not None else None
            if key not in self._timers:
                # the first fill goes out at once, more within the window become one message; a
                # liquidation (the venue's order) waits the window to gather its fills
                self._arm(key, self.coalesce_s if event.fill.liquidation else 0, rearm=True)
        elif (isinstance(event, OrderUpdate) and change is not None and change.kind in TOLD_CHANGES
              and change.before is not None):  # an order first seen finished is history, not news
            if change.kind is Kind.TRIGGERED and change.after.status is OrderStatus.FILLED:
                return  # its fill alert says "Take profit filled"
            self._spawn(self._order_change(change))
        elif isinstance(event, Liquidation):
            # told from its fills, which name the market, the size, the price and what is left
            log.warning("liquidation on %s: %s %s at %s", event.exchange, event.symbol, event.size, event.price)
        elif isinstance(event, StreamStatus):
            self._stream(event)

    def _arm(self, key: tuple[str, str], delay: float, *, rearm: bool) -> None:
        self._timers[key] = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(self._flush_fills(key, rearm=rearm)))

    async def _order_now(self, key: tuple[str, str], fill: Fill) -> Order | None:
        """The order as known now: the store, what the sync last said, or (an order the bot does not
        know yet) the venue, asked once."""
        stored = await self.risk.orders.store.get_order_by_venue_id(*key)
        if stored is not None:
            return stored
        if self._orders.get(key) is not None:
            return self._orders[key]
        if key not in self._looked_up:
            self._looked_up[key] = await self._venue_order(fill)
            while len(self._looked_up) > KEPT:
                self._looked_up.popitem(last=False)
        return self._looked_up[key]

    async def _incomplete(self, key: tuple[str, str], order: Order) -> bool:
        """The venue has more fills of this order coming: it says it is done but not all its fills are
        in, or it is an immediate-or-cancel order still working."""
        if order.status is OrderStatus.FILLED:
            stored = await self.risk.orders.store.fills_for_order(*key)
            return sum((f.size for f in stored), ZERO) < order.filled
        immediate = order.tif is TimeInForce.IOC or order.order_type is OrderType.MARKET
        return immediate and not order.status.is_final

    async def _flush_fills(self, key: tuple[str, str], rearm: bool = False) -> None:
        self._timers.pop(key, None)
        if key in self._flushing:
            return  # the flush under way arms the next one when it is done
        self._flushing.add(key)
        try:
            outcome = await self._flush_once(key)
        finally:
            self._flushing.discard(key)
        if key in self._timers:
            return
        if outcome == "waiting":
            self._arm(key, RECHECK_S, rearm=rearm)
        elif outcome == "sent" and rearm and not self._closing:
            self._arm(key, self.coalesce_s, rearm=True)  # fills within the window become one message
        elif self._fills.get(key):
            self._arm(key, RECHECK_S, rearm=rearm)  # arrived while this one was being sent

    async def _flush_once(self, key: tuple[str, str]) -> str:
        fills = self._fills.get(key)
        if not fills:
            return "empty"
        f0 = fills[0]
        order = None if f0.liquidation else await self._order_now(key, f0)
        waited = asyncio.get_running_loop().time() - self._since.get(key, 0)
        if order is not None and not self._closing and waited < COMPLETE_WAIT_S and await self._incomplete(key, order):
            return "waiting"  # one message when the order is done
        fills = self._fills.pop(key, [])
        self._since.pop(key, None)
        self._orders.pop(key, None)
        m = await self._market(f0.exchange, f0.symbol)
        held = await self._held(fills, m)
        text = liquidation_text(fills, m, held) if f0.liquidation else fill_text(fills, order, m, held)
        await self.n.alert("risk" if f0.liquidation else "fills", text, risk=f0.liquidation,
                           dedupe_key=f"fill:{f0.exchange}:{fills[-1].fill_id}")
        return "sent"

    async def _held(self, fills: list[Fill], m: Market | None) -> str | None:
        last = fills[-1]
        if last.position_after is not None:  # the venue's own figure: later fills cannot blur it
            return holding_line(last.symbol, m, last.position_after)
        try:
            ex = self.risk.orders.venue(last.exchange)
            if is_spot(last.symbol, m):
                base = m.base if m is not None else last.symbol.split("/")[0]
                held = next((b.total for b in (await ex.balances()).spot if b.asset == base), ZERO)
            else:
                held = next((p.size for p in await ex.positions() if p.symbol == last.symbol), ZERO)
            return holding_line(last.symbol, m, held, now=True)
        except Exception as exc:  # the alert goes out without the position rather than not at all
            log.warning("position for fill alert unavailable: %s", exc)
            return None

    async def _venue_order(self, fill: Fill) -> Order | None:
        try:
            return await within(self.risk.orders.venue(fill.exchange).order_status(fill.symbol,
                                                                                   order_id=fill.order_id), 5)
        except (ExchangeError, OSError, TimeoutError) as exc:
            log.info("state of order %s for its fill alert unknown: %s", fill.order_id, exc)
            return None

    async def _order_change(self, change: Change) -> None:
        o = change.after
        text = change_text(change, await self._market(o.exchange, o.symbol))
        if text:
            await self.n.alert("orders", text, dedupe_key=f"{change.kind.value}:{o.exchange}:{o.order_id}")

    def _stream(self, ev: StreamStatus) -> None:
        loop = asyncio.get_running_loop()
        if not ev.connected:
            if ev.exchange not in self._stream_down and ev.reason != "closed":
                self._stream_down[ev.exchange] = loop.call_later(
                    self.stream_grace_s, lambda: self._spawn(self._stream_lost(ev)))
            return
        timer = self._stream_down.pop(ev.exchange, None)
        if timer is not None:
            timer.cancel()
        if ev.exchange in self._stream_alerted:
            self._stream_alerted.discard(ev.exchange)
            self._spawn(self.n.alert("streams", stream_restored_text(ev.exchange)))

    async def _stream_lost(self, ev: StreamStatus) -> None:
        self._stream_down.pop(ev.exchange, None)
        self._stream_alerted.add(ev.exchange)
        await self.n.alert("streams", stream_lost_text(ev.exchange, ev.reason), risk=True)

    # ---- orders placed outside the bot: one message per burst ----
    def _adopt(self, order: Order) -> None:
        venue = order.exchange
        self._adopted.setdefault(venue, []).append(order)
        timer = self._adopt_timer.pop(venue, None)
        if timer is not None:
            timer.cancel()
        if self._closing:
            self._spawn(self._flush_adopted(venue))
            return
        # told once the burst is over (a reconcile adopting 25 orders, a grid placed in a web app)
        self._adopt_timer[venue] = asyncio.get_running_loop().call_later(
            max(self.coalesce_s, 0.5), lambda: self._spawn(self._flush_adopted(venue)))

    async def _flush_adopted(self, venue: str) -> None:
        self._adopt_timer.pop(venue, None)
        orders = self._adopted.pop(venue, [])
        if not orders:
            return
        markets = {o.symbol: m for o in orders[:ADOPTED_LISTED] if (m := await self._market(venue, o.symbol))}
        await self.n.alert("orders", adopted_text(venue, orders, markets),
                           dedupe_key=f"adopted:{venue}:{orders[0].order_id}:{len(orders)}")

    # ---- risk notices ----
    def on_notice(self, notice: Notice | NoticeBatch) -> None:
        notices = notice.notices if isinstance(notice, NoticeBatch) else (notice,)
        for n in notices:
            if isinstance(n, OrderResolved):
                self._spawn(self._order_resolved(n))
            elif isinstance(n, OrderAdopted):
                self._adopt(n.order)
        notices = tuple(n for n in notices if not isinstance(n, OrderAdopted))
        kill = next((n for n in notices if isinstance(n, KillReport)), None)
        if kill is not None:
            # one message per kill: the state change it made and what led to it go into the report
            others = [n for n in notices if n is not kill and not (isinstance(n, StateChanged)
                                                                    and n.new is TradingState.HALTED)]
            self._spawn(self._kill(kill, [t for n in others if (t := self.describe(n))]))
            return
        if isinstance(notice, NoticeBatch):
            texts = [t for n in notices if (t := self.describe(n))]
            if texts:
                risky = any(isinstance(n, LossWarning | LimitBreached) for n in notices)
                kind = "risk" if any(k == "risk" for k, _ in texts) else texts[0][0]
                self._spawn(self.n.alert(kind, "\n\n".join(t for _, t in texts), risk=risky))
            return
        described = self.describe(notice) if notices else None
        if described:
            kind, text = described
            self._spawn(self.n.alert(kind, text, risk=isinstance(notice, LossWarning | LimitBreached)
                                     or (isinstance(notice, StateChanged) and notice.new.value != "ACTIVE")))

    async def _kill(self, report: KillReport, before: list[tuple[str, str]]) -> None:
        """The kill report: as a reply where it was asked for (always delivered), as a risk alert to the
        other alert chats. The final report edits the first in place."""
        text = "\n\n".join([t for _, t in before] + [kill_view(report)])
        buttons = FLATTEN_CHOICE if report.flatten == "ask" and report.kept_positions else []
        key = f"kill:{report.kill_id}"
        reply_chat, _, reply_msg = (report.reply_to or "").partition(":")
        edit_of = key if report.follow_up else None
        dedupe = f"{key}:final" if edit_of else key
        if reply_chat:
            await self.n.alert(REPLIES, text, chats=[reply_chat], buttons=buttons, dedupe_key=dedupe,
                               edit_message=int(reply_msg) if reply_msg and not edit_of else None, edit_of=edit_of)
        others = [c for c in self.n.chats if c != reply_chat]
        if others:
            await self.n.alert("risk", text, chats=others, buttons=buttons, dedupe_key=dedupe, edit_of=edit_of)

    async def _order_resolved(self, n: OrderResolved) -> None:
        """An order whose fate was unknown (a lost answer, a restart) is settled: say so where its preview
        was confirmed, so no preview is left showing a question the venue has answered."""
        o = n.order
        extra = await self.risk.orders.store.order_extra(o.client_id or "")
        chat, message = extra.get("chat_id"), extra.get("message_id")
        if chat is None or message is None:
            return
        text = resolved_text(n, await self._market(o.exchange, o.symbol), str(extra.get("what") or "order"))
        await self.n.alert(REPLIES, text, chats=[str(chat)], edit_message=int(message), buttons=[],
                           dedupe_key=f"result:{o.client_id}:{o.status.value}")
        await self.risk.orders.store.order_told(o.client_id or "")

    async def tell_untold(self, since_ms: int) -> int:
        """At start: orders confirmed from a preview whose result never reached it (the bot died between
        the venue's answer and the edit) are told there now. Returns how many."""
        untold = await self.risk.orders.store.untold_orders(since_ms)
        for o in untold:
            await self._order_resolved(OrderResolved(o, "found at start", self.clock()))
        return len(untold)

    def describe(self, notice: Notice) -> tuple[str, str] | None:
        return describe(notice)
