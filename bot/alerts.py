"""What the trader hears about, and how: venue events and risk notices become alerts.

Fills of one order arriving within `coalesce_s` become one message with exact totals; a stream
that drops is only reported when it stays down past a grace period (a 2-second blip is silent).
Alerts about risk carry the KILL button.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal

from bot.notifier import REPLIES, Notifier
from exchanges.aio import within
from exchanges.errors import ExchangeError
from exchanges.models import (
    Event,
    Fill,
    FillEvent,
    Liquidation,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    StreamStatus,
)
from handlers.keyboards import FLATTEN_CHOICE
from handlers.render import esc, fmt_num, fmt_usd
from handlers.views import kill_view, order_result_view
from risk.events import (
    NOT_ON_VENUE,
    KillReport,
    LimitBreached,
    LossWarning,
    Notice,
    NoticeBatch,
    OrderAdopted,
    OrderResolved,
    SafetyNetRefused,
    StateChanged,
    TradingState,
    VenueReady,
    VenueWaiting,
)
from risk.service import Risk

log = logging.getLogger(__name__)
ZERO = Decimal(0)
_OUR_CANCELS = ("cancelled by you", "cancelled by the kill switch", "cancelled", "replaced by a modified order",
                "modified")


class AlertRouter:
    def __init__(self, notifier: Notifier, risk: Risk, clock: Callable[[], int], *, coalesce_s: float = 0.3,
                 stream_grace_s: float = 10.0):
        self.n, self.risk, self.clock = notifier, risk, clock
        self.coalesce_s, self.stream_grace_s = coalesce_s, stream_grace_s
        self._fills: dict[tuple[str, str], list[Fill]] = {}
        self._orders: dict[tuple[str, str], Order | None] = {}
        self._stream_down: dict[str, asyncio.TimerHandle] = {}
        self._stream_alerted: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._closing = False
        risk.bus.subscribe(self.on_notice)
        risk.sync.listeners.append(self.on_event)

    def _spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Send what is being coalesced now and wait for alerts being composed (tests, shutdown)."""
        self._closing = True
        while self._timers or self._tasks:
            for key, timer in list(self._timers.items()):
                timer.cancel()
                self._timers.pop(key, None)
                self._spawn(self._flush_fills(key))
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for timer in self._stream_down.values():
            timer.cancel()
        self._stream_down.clear()

    # ---- venue events ----
    def on_event(self, event: Event, before: Order | None, after: Order | None, new_fill: bool) -> None:
        if isinstance(event, FillEvent) and new_fill:
            key = (event.fill.exchange, event.fill.order_id)
            self._fills.setdefault(key, []).append(event.fill)
            self._orders[key] = after
            if key not in self._timers:
                # the first fill goes out at once; more within the window become one message
                self._spawn(self._flush_fills(key, rearm=True))
        elif isinstance(event, OrderUpdate) and after is not None and before is not None:
            self._order_change(before, after)
        elif isinstance(event, Liquidation):
            self._spawn(self.n.alert("risk", f"🚨 <b>Liquidation</b> on {esc(event.exchange)}: {esc(event.symbol)}"
                                             f" {esc(fmt_num(event.size))} at {esc(fmt_num(event.price))}", risk=True))
        elif isinstance(event, StreamStatus):
            self._stream(event)

    async def _flush_fills(self, key: tuple[str, str], rearm: bool = False) -> None:
        self._timers.pop(key, None)
        fills = self._fills.pop(key, [])
        order = self._orders.pop(key, None)
        if not fills:
            return
        if rearm and not self._closing:
            self._timers[key] = asyncio.get_running_loop().call_later(
                self.coalesce_s, lambda: self._spawn(self._flush_fills(key, rearm=bool(self._fills.get(key)))))
        f0 = fills[0]
        size = sum((f.size for f in fills), ZERO)
        avg = sum((f.price * f.size for f in fills), ZERO) / size
        fee = sum((f.fee for f in fills), ZERO)
        pnl = sum((f.realized_pnl for f in fills), ZERO)
        if order is None:  # an order the bot does not know (yet): ask the venue rather than guess "partly"
            order = await self._venue_order(f0)
        done = order is not None and order.status is OrderStatus.FILLED
        head = "✅ <b>Filled</b>" if done else "🟡 <b>Partly filled</b>" if order is not None else "🔵 <b>Fill</b>"
        lines = [f"{head} {esc(f0.side.value.upper())} {esc(fmt_num(size))} {esc(f0.symbol)} on {esc(f0.exchange)}",
                 f"avg {esc(fmt_num(avg))} · {len(fills)} fill(s) · fee {esc(fmt_num(fee))} {esc(f0.fee_asset)}"]
        if order is not None:
            lines.append(f"order: {esc(fmt_num(order.filled))} of {esc(fmt_num(order.size))} filled")
        if pnl:
            lines.append(f"realized PnL {esc(fmt_usd(pnl, sign=True))}")
        after = fills[-1].position_after  # the venue's own figure: later fills cannot blur it
        if after is not None:
            lines.append(f"position after: {esc(fmt_num(after, sign=True)) if after else 'flat'}")
        else:
            try:
                positions = await self.risk.orders.venue(f0.exchange).positions()
                pos = next((p for p in positions if p.symbol == f0.symbol), None)
                lines.append(f"position now {esc(fmt_num(pos.size, sign=True)) if pos else 'flat'}")
            except Exception as exc:  # the alert goes out without the position rather than not at all
                log.warning("position for fill alert unavailable: %s", exc)
        await self.n.alert("fills", "\n".join(lines), dedupe_key=f"fill:{f0.exchange}:{fills[-1].fill_id}")

    async def _venue_order(self, fill: Fill) -> Order | None:
        try:
            return await within(self.risk.orders.venue(fill.exchange).order_status(fill.symbol,
                                                                                   order_id=fill.order_id), 5)
        except (ExchangeError, OSError, TimeoutError) as exc:
            log.info("state of order %s for its fill alert unknown: %s", fill.order_id, exc)
            return None

    def _order_change(self, before: Order, after: Order) -> None:
        if before.status is after.status:
            return
        what = f"{after.side.value.upper()} {fmt_num(after.size)} {after.symbol} on {after.exchange}"
        if before.status is OrderStatus.WAITING_TRIGGER and after.trigger_price is not None:
            kind = "Take profit" if after.order_type is OrderType.TAKE_PROFIT else "Stop loss"
            self._spawn(self.n.alert("orders", f"🎯 <b>{kind} triggered</b>: {esc(what)} at"
                                               f" {esc(fmt_num(after.trigger_price))}",
                                     dedupe_key=f"trig:{after.exchange}:{after.order_id}"))
        elif after.status is OrderStatus.CANCELED and (after.reason or "") not in _OUR_CANCELS:
            self._spawn(self.n.alert("orders", f"⚪ <b>Cancelled by {esc(after.exchange)}</b>: {esc(what)}"
                                               f" ({esc(after.reason or 'no reason given')})",
                                     dedupe_key=f"cxl:{after.exchange}:{after.order_id}"))
        elif after.status is OrderStatus.REJECTED and before.status is not OrderStatus.PENDING:
            self._spawn(self.n.alert("orders", f"❌ <b>Rejected by {esc(after.exchange)}</b>: {esc(what)}"
                                               f" ({esc(after.reason or 'no reason given')})",
                                     dedupe_key=f"rej:{after.exchange}:{after.order_id}"))

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
            self._spawn(self.n.alert("streams", f"🟢 <b>{esc(ev.exchange)} stream restored</b>; missed fills and"
                                                " order states were fetched again."))

    async def _stream_lost(self, ev: StreamStatus) -> None:
        self._stream_down.pop(ev.exchange, None)
        self._stream_alerted.add(ev.exchange)
        await self.n.alert("streams", f"🔴 <b>{esc(ev.exchange)} stream lost</b> ({esc(ev.reason)}); reconnecting."
                                      " Orders and limits keep working over REST.", risk=True)

    # ---- risk notices ----
    def on_notice(self, notice: Notice | NoticeBatch) -> None:
        notices = notice.notices if isinstance(notice, NoticeBatch) else (notice,)
        for n in notices:
            if isinstance(n, OrderResolved):
                self._spawn(self._order_resolved(n))
        kill = next((n for n in notices if isinstance(n, KillReport)), None)
        if kill is not None:
            # one message per kill: the state change it made and what led to it go into the report
            others = [n for n in notices if n is not kill and not (isinstance(n, StateChanged)
                                                                    and n.new is TradingState.HALTED)]
            self._spawn(self._kill(kill, [t for n in others if (t := self.describe(n))]))
            return
        if isinstance(notice, NoticeBatch):
            texts = [t for n in notice.notices if (t := self.describe(n))]
            if texts:
                risky = any(isinstance(n, LossWarning | LimitBreached) for n in notice.notices)
                kind = "risk" if any(k == "risk" for k, _ in texts) else texts[0][0]
                self._spawn(self.n.alert(kind, "\n\n".join(t for _, t in texts), risk=risky))
            return
        described = self.describe(notice)
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
        edit = {"edit_of": key} if report.follow_up else {}
        dedupe = f"{key}:final" if edit else key
        if reply_chat:
            await self.n.alert(REPLIES, text, chats=[reply_chat], buttons=buttons, dedupe_key=dedupe,
                               edit_message=int(reply_msg) if reply_msg and not edit else None, **edit)
        others = [c for c in self.n.chats if c != reply_chat]
        if others:
            await self.n.alert("risk", text, chats=others, buttons=buttons, dedupe_key=dedupe, **edit)

    async def _order_resolved(self, n: OrderResolved) -> None:
        """An order whose fate was unknown (a lost answer, a restart) is settled: say so where its preview
        was confirmed, so no preview is left showing a question the venue has answered."""
        o = n.order
        extra = await self.risk.orders.store.order_extra(o.client_id or "")
        chat, message = extra.get("chat_id"), extra.get("message_id")
        if chat is None or message is None:
            return
        try:
            market = await self.risk.orders.venue(o.exchange).market(o.symbol)
        except Exception:  # the result goes out with plain numbers rather than not at all
            market = None
        text = order_result_view(o, market, str(extra.get("what") or "order"))
        if n.how == NOT_ON_VENUE:
            text += "\nNothing was sent to the venue; send the command again if you still want it."
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
        """(alert kind, HTML text) for a risk notice."""
        if isinstance(notice, KillReport):
            return "risk", kill_view(notice)
        if isinstance(notice, StateChanged):
            return "risk", (f"⚠️ <b>Trading {esc(notice.new.value)}</b> (was {esc(notice.old.value)}):"
                            f" {esc(notice.reason)}, by {esc(notice.by)}")
        if isinstance(notice, LossWarning):
            label = "Daily loss" if notice.kind == "daily_loss" else "Drawdown"
            value = fmt_usd(notice.value) if notice.kind == "daily_loss" else f"{fmt_num(notice.value, 2)}%"
            limit = fmt_usd(notice.limit) if notice.kind == "daily_loss" else f"{fmt_num(notice.limit)}%"
            return "risk", (f"⚠️ <b>{label} at {int(notice.fraction * 100)}% of the limit</b>:"
                            f" {esc(value)} of {esc(limit)}")
        if isinstance(notice, LimitBreached):
            what = {"daily_loss": "Daily loss limit", "drawdown": "Max drawdown",
                    "equity_unknown": "Equity unknown for too long"}[notice.kind]
            return "risk", f"🛑 <b>{what} breached</b>: new exposure is blocked."
        if isinstance(notice, OrderAdopted):
            o = notice.order
            return "orders", (f"ℹ️ Found an order placed outside the bot on {esc(o.exchange)}:"
                              f" {esc(o.side.value.upper())} {esc(fmt_num(o.size))} {esc(o.symbol)}"
                              f" (order {esc(o.order_id)}). It is tracked, not touched.")
        if isinstance(notice, VenueWaiting):
            return "risk", (f"⏳ <b>Starting: waiting for {esc(notice.venue)}</b> ({esc(notice.why)}). Until it is"
                            " reconciled it accepts only closes and cancels; retrying.")
        if isinstance(notice, VenueReady):
            return "risk", f"✅ <b>{esc(notice.venue)} reconciled</b>: trading normally there."
        if isinstance(notice, SafetyNetRefused):
            return "risk", f"⚠️ Dead man's switch refused by {esc(notice.venue)}: {esc(notice.message)}"
        return None
