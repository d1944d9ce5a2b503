"""The trading desk: quotes, single-use confirmations and what happens on Confirm.

Used by the Telegram handlers (and usable from any other front end): it holds no Telegram code.
A confirmation is a random token stored with the requesting user and an expiry; the button carries
only the token. Confirm re-checks on fresh prices; a price that moved beyond the slippage bound
gives a fresh quote instead of an order. A press is checked against the tokens held in memory (the
database after a restart) and taken at once, so a second press is refused; the token is used for
good in the same transaction as the order's intent, so nothing reaches a venue on a used token.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from desk.numbers import fmt_pct, fmt_usd
from desk.settings import DeskSettings
from exchanges.errors import OrderNotFoundError
from exchanges.models import Order, OrderRequest, OrderStatus, OrderType, Position, Side, TimeInForce
from exchanges.precision import to_wire
from risk.limits import LossStatus, price_text
from risk.order_changes import Cause
from risk.pretrade import OrderRefused, Preview
from risk.service import Risk
from store.db import Confirmation, Store, TokenRefused, TokenStatus

if TYPE_CHECKING:
    from desk.spreads import Spreads

ZERO = Decimal(0)
TRIGGERS = {"tp": (OrderType.TAKE_PROFIT, "take profit"), "sl": (OrderType.STOP, "stop loss")}


def still_breached(loss: LossStatus, state: str) -> str:
    """Why /resume did not resume: the limit that still breaches, with its figures."""
    if loss.breached == "daily_loss":
        what = (f"Daily loss {fmt_usd(loss.daily_loss)} of {fmt_usd(loss.daily_limit)} is still past the limit"
                " (it resets at the start of the next day)")
    elif loss.breached == "drawdown":
        what = (f"Drawdown {fmt_pct(loss.drawdown_percent, sign=False)} of"
                f" {fmt_pct(loss.drawdown_limit, sign=False)} is still past the limit")
    else:
        what = "Equity or the venues' cash flows have been unknown for too long"
    return f"⚠️ Not resumed. {what}. Trading stays {state}: only closes and cancels are accepted."


class DeskError(ValueError):
    """A request the desk cannot act on; the message tells the trader what to do."""


def request_to_dict(r: OrderRequest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in r.__dataclass_fields__:
        v = getattr(r, k)
        out[k] = str(v) if isinstance(v, Decimal) else (v.value if hasattr(v, "value") else v)
    return out


def request_from_dict(d: dict[str, Any]) -> OrderRequest:
    dec = {"size", "price", "trigger_price", "slippage", "take_profit", "stop_loss"}
    kw: dict[str, Any] = {k: (Decimal(v) if k in dec and v is not None else v) for k, v in d.items()}
    kw["side"], kw["order_type"], kw["tif"] = Side(d["side"]), OrderType(d["order_type"]), TimeInForce(d["tif"])
    return OrderRequest(**kw)


@dataclass(frozen=True)
class Quote:
    preview: Preview
    token: str | None  # None: refused, nothing to confirm
    description: str


class Confirm(StrEnum):
    """What a confirmation token confirms (stored with it)."""

    ORDER = "order"
    LEVERAGE = "leverage"
    CANCEL_ALL = "cancel_all"
    TRIGGER_OFF = "trigger_off"
    RESUME = "resume"
    ARBITRAGE = "arbitrage"  # a two-leg pair (desk/spreads.py)


class Status(StrEnum):
    """What pressing a confirmation did."""

    PLACED = "placed"
    REQUOTE = "requote"  # the price moved beyond the slippage bound: a new quote, nothing sent
    REFUSED = "refused"
    DONE = "done"
    CANCELLED = "cancelled"  # the trader pressed Cancel: nothing sent
    USED = "used"
    NOT_YOURS = "not_yours"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    FAILED = "failed"

    @classmethod
    def of(cls, token: TokenStatus) -> Status:
        return cls(token.value)


TOKEN_REFUSED = frozenset({Status.UNKNOWN, Status.USED, Status.NOT_YOURS, Status.EXPIRED})


@dataclass(frozen=True)
class Outcome:
    status: Status
    kind: str = ""
    order: Order | None = None
    preview: Preview | None = None
    token: str | None = None
    detail: str = ""


class Desk:
    def __init__(self, risk: Risk, store: Store, settings: DeskSettings, clock: Callable[[], int], ttl_s: int = 60):
        self.risk, self.store, self.settings, self.clock = risk, store, settings, clock
        self.ttl_ms = ttl_s * 1000
        self._issued: dict[str, Confirmation] = {}  # live tokens, so a press needs no database read
        self._taken: set[str] = set()  # pressed here: a second press is refused at once
        self.spreads: Spreads | None = None  # cross-venue pairs, set by the composition root

    @property
    def venues(self) -> list[str]:
        return list(self.risk.orders.exchanges)

    def resolve_exchange(self, name: str | None) -> str:
        if name is not None:
            if name not in self.venues:
                raise DeskError(f"{name} is not enabled; enabled: {', '.join(self.venues)}")
            return name
        if len(self.venues) == 1:
            return self.venues[0]
        if self.settings.default_exchange:
            return self.settings.default_exchange
        raise DeskError(f"say which exchange: {' or '.join(self.venues)} (e.g. /buy {self.venues[0]} BTC 0.01),"
                        " or set trading.default_exchange")

    async def _token(self, user_id: int, chat_id: int, kind: Confirm, payload: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(12)  # 16 characters: fits callback data with room to spare
        now = self.clock()
        c = Confirmation(token, user_id, chat_id, kind, payload, now + self.ttl_ms)
        await self.store.put_confirmation(c, now)
        for t in [t for t, old in self._issued.items() if old.expires_ms <= now]:
            del self._issued[t]
            self._taken.discard(t)
        self._issued[token] = c
        return token

    async def quote_order(self, user_id: int, chat_id: int, req: OrderRequest, description: str,
                          extra: dict[str, Any] | None = None) -> Quote:
        """`extra`: more for Confirm to act on (the trigger orders a new TP/SL replaces)."""
        pv = await self.risk.orders.preview(req)
        if not pv.ok:
            return Quote(pv, None, description)
        payload = {"request": request_to_dict(pv.request), "est_price": str(pv.est_price), "what": description,
                   **(extra or {})}
        return Quote(pv, await self._token(user_id, chat_id, Confirm.ORDER, payload), description)

    async def _position(self, venue: str, symbol: str) -> Position | None:
        return next((p for p in await self.risk.orders.venue(venue).positions() if p.symbol == symbol and p.size != 0),
                    None)

    async def quote_close(self, user_id: int, chat_id: int, venue: str, symbol: str, percent: Decimal) -> Quote:
        pos = await self._position(venue, symbol)
        if pos is None:
            raise DeskError(f"no open {symbol} position on {venue}")
        req = self.risk.orders.close_request(pos, percent / 100)
        market = await self.risk.orders.venue(venue).market(symbol)
        if percent < 100:
            req = replace(req, size=market.round_size(req.size))
        return await self.quote_order(user_id, chat_id, req, f"close {to_wire(percent)}% of {symbol}")

    async def triggers(self, venue: str, symbol: str, kind: str) -> tuple[Position, list[Order]]:
        """The open position on a market and its take profit (kind "tp") or stop loss ("sl") orders."""
        order_type, name = TRIGGERS[kind]
        pos = await self._position(venue, symbol)
        if pos is None:
            raise DeskError(f"no open {symbol} position on {venue}: a {name} needs one (tp= and sl= attach one"
                            " to a new order)")
        orders = [o for o in await self.risk.orders.venue(venue).open_orders()
                  if o.symbol == symbol and o.order_type is order_type and o.trigger_price is not None]
        return pos, orders

    async def quote_trigger(self, user_id: int, chat_id: int, venue: str, symbol: str, kind: str,
                            price: Decimal) -> Quote:
        """Set or move a position's take profit / stop loss: a reduce-only trigger for the whole position,
        placed before the one it replaces is cancelled, so the position is never left unprotected."""
        pos, old = await self.triggers(venue, symbol, kind)
        order_type, name = TRIGGERS[kind]
        req = OrderRequest(venue, symbol, Side.SELL if pos.size > 0 else Side.BUY, abs(pos.size), None, order_type,
                           reduce_only=True, trigger_price=price)
        moved = f" (replaces {', '.join(price_text(o.trigger_price or ZERO) for o in old)})" if old else ""
        what = f"{name} at {price_text(price)} for the {symbol} {'long' if pos.size > 0 else 'short'}{moved}"
        # a trigger's estimate is its own price: Confirm never re-quotes it
        return await self.quote_order(user_id, chat_id, req, what,
                                      {"replaces": [o.order_id for o in old if o.order_id]})

    async def open_order_count(self, venues: list[str], symbol: str | None) -> int:
        """Open orders on these venues (of one market, or all): a cancel with nothing to cancel asks nothing."""
        n = 0
        for venue in venues:
            n += sum(1 for o in await self.risk.orders.venue(venue).open_orders() if symbol in (None, o.symbol))
        return n

    async def quote_action(self, user_id: int, chat_id: int, kind: Confirm, payload: dict[str, Any]) -> str:
        return await self._token(user_id, chat_id, kind, payload)

    async def discard(self, token: str, user_id: int) -> Outcome:
        refused, c = await self.claim(token, user_id)
        if c is None:
            return refused  # type: ignore[return-value]
        return await self._use(c) or Outcome(Status.CANCELLED, c.kind)

    async def claim(self, token: str, user_id: int) -> tuple[Outcome | None, Confirmation | None]:
        """Take a token: once, by its owner, in time. An Outcome says why not. The token is used for good
        in the transaction that writes what it confirms (an order's intent), or before any other action."""
        c = self._issued.get(token)
        used = False
        if c is None:  # issued before a restart
            found = await self.store.get_confirmation(token)
            if found is None:
                return Outcome(Status.UNKNOWN), None
            c, used = found
            self._issued[token] = c
        if used or token in self._taken:
            return Outcome(Status.USED, c.kind), None
        if c.user_id != user_id:
            return Outcome(Status.NOT_YOURS, c.kind), None
        if c.expires_ms <= self.clock():
            return Outcome(Status.EXPIRED, c.kind), None
        self._taken.add(token)  # no await since the check above: two presses cannot both get here
        return None, c

    async def confirm(self, token: str, user_id: int, origin: str) -> Outcome:
        refused, c = await self.claim(token, user_id)
        return refused if c is None else await self.act(c, origin)  # type: ignore[return-value]

    async def _use(self, c: Confirmation) -> Outcome | None:
        status, _ = await self.store.consume_confirmation(c.token, c.user_id, self.clock())
        return None if status is TokenStatus.OK else Outcome(Status.of(status), c.kind)

    async def act(self, c: Confirmation, origin: str, *, shown_at: dict[str, Any] | None = None) -> Outcome:
        """Do what a claimed token confirms. `shown_at`: where the preview is (kept with the order, so
        its result can be told there if it is only known later, e.g. after a restart)."""
        if c.kind == Confirm.ORDER:
            try:
                return await self._confirm_order(c, origin, shown_at)
            except BaseException:
                self._taken.discard(c.token)  # failed before the intent used it: it may be pressed again
                raise
        refused = await self._use(c)
        if refused is not None:
            return refused
        if c.kind == Confirm.LEVERAGE:
            p = c.payload
            try:
                await self.risk.orders.set_leverage(p["exchange"], p["symbol"], int(p["leverage"]))
            except OrderRefused as exc:
                return Outcome(Status.REFUSED, c.kind, detail=str(exc))
            return Outcome(Status.DONE, c.kind,
                           detail=f"{p['symbol']} leverage set to {p['leverage']}x on {p['exchange']}")
        if c.kind == Confirm.CANCEL_ALL:
            n = 0
            for venue in c.payload["exchanges"]:
                n += len(await self.risk.orders.cancel_all(venue, c.payload.get("symbol")))
            if n == 0:
                return Outcome(Status.DONE, c.kind, detail="Nothing was open any more; nothing was cancelled.")
            return Outcome(Status.DONE, c.kind, detail=f"{n} order{'s' if n != 1 else ''} cancelled")
        if c.kind == Confirm.TRIGGER_OFF:
            p = c.payload
            for oid in p["order_ids"]:
                await self.risk.orders.cancel(p["exchange"], p["symbol"], order_id=oid)
            return Outcome(Status.DONE, c.kind, detail=f"{p['what']} removed.")
        if c.kind == Confirm.RESUME:
            changed, loss = await self.risk.monitor.resume(origin)
            if loss.breached is not None:  # never "resumed" while a limit still holds trading back
                return Outcome(Status.REFUSED, c.kind, detail=still_breached(loss, self.risk.state.state.value))
            return Outcome(Status.DONE, c.kind, detail="Trading resumed." if changed else "Trading was already active.")
        if c.kind == Confirm.ARBITRAGE:  # detail: the pair id, whose report the spreads keep
            if self.spreads is None:
                return Outcome(Status.REFUSED, c.kind, detail="Arbitrage is not set up in this bot.")
            try:
                report = await self.spreads.execute_confirmed(c.payload, origin)
            except OrderRefused as exc:
                return Outcome(Status.REFUSED, c.kind, detail=str(exc))
            return Outcome(Status.DONE, c.kind, detail=report.pair_id)
        return Outcome(Status.UNKNOWN, c.kind)

    async def _confirm_order(self, c: Confirmation, origin: str, shown_at: dict[str, Any] | None) -> Outcome:
        req = request_from_dict(c.payload["request"])
        quoted = Decimal(c.payload["est_price"])
        pv = await self.risk.orders.preview(req)
        bound = req.slippage if req.slippage is not None else self.settings.default_slippage
        if quoted > 0 and pv.est_price > 0 and abs(pv.est_price - quoted) / quoted > bound:
            refused = await self._use(c)
            if refused is not None:
                return refused
            payload = {**c.payload, "est_price": str(pv.est_price)}
            token = await self._token(c.user_id, c.chat_id, Confirm.ORDER, payload) if pv.ok else None
            return Outcome(Status.REQUOTE, c.kind, preview=pv, token=token, detail=c.payload.get("what", ""))
        try:  # the token is used in the intent's own transaction: one trip to the database, not two
            placed = await self.risk.orders.execute(
                pv, origin=origin, also=self.store.token_use(c.token, c.user_id, self.clock()),
                extra={**shown_at, "what": c.payload.get("what", "")} if shown_at else None)
        except OrderRefused:
            return await self._use(c) or Outcome(Status.REFUSED, c.kind, preview=pv, detail=c.payload.get("what", ""))
        except TokenRefused as exc:
            return Outcome(Status.of(exc.status), c.kind)
        if c.payload.get("replaces") and placed.order.status in (OrderStatus.OPEN, OrderStatus.WAITING_TRIGGER):
            for oid in c.payload["replaces"]:  # the new trigger is on the venue: now the old one can go
                try:
                    await self.risk.orders.cancel(req.exchange, req.symbol, order_id=oid,
                                                  cause=Cause.REPLACED)
                except OrderNotFoundError:
                    pass  # it fired or was cancelled meanwhile
        return Outcome(Status.PLACED, c.kind, order=placed.order, preview=pv, detail=c.payload.get("what", ""))

