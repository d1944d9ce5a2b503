"""The text of every alert: pure functions of the facts, at each market's precision and phone width.

Prices at the market's precision, sizes never finer than its lot, fees in USD like the previews,
plural words ("1 fill", "5 fills"); no prose line over 64 columns (tests/test_alert_texts.py builds
every text with long real values). What an order change was comes from risk/order_changes.py.
"""

from __future__ import annotations

from decimal import Decimal

from exchanges.models import Fill, Market, MarketKind, Order, OrderStatus, OrderType
from handlers.render import USD_STABLES, clip, esc, fmt_fee, fmt_num, fmt_price, fmt_usd, plural, wrap
from handlers.views import kill_view, order_result_view, who
from risk.events import (
    NOT_ON_VENUE,
    KillReport,
    LimitBreached,
    LossWarning,
    Notice,
    OrderAdopted,
    OrderResolved,
    SafetyNetRefused,
    StateChanged,
    VenueReady,
    VenueWaiting,
)
from risk.order_changes import Change, Kind

ZERO = Decimal(0)
ADOPTED_LISTED = 5  # outside orders named one by one in their message; the rest are counted


def _size(m: Market | None, v: Decimal, *, sign: bool = False) -> str:
    """A size as the trader typed it ("0.5", not "0.5000"), never finer than the market's lot."""
    return fmt_num(v.quantize(m.lot_size).normalize() if m is not None else v, sign=sign)


def _what(o: Order, m: Market | None) -> str:
    px = o.trigger_price if o.trigger_price is not None else o.price
    at = f" at {fmt_price(m, px)}" if px is not None else ""
    return esc(f"{o.side.value.upper()} {_size(m, o.size)} {o.symbol}{at}")


def is_spot(symbol: str, m: Market | None) -> bool:
    return m.kind is MarketKind.SPOT if m is not None else "/" in symbol


def holding_line(symbol: str, m: Market | None, held: Decimal | None, *, now: bool = False) -> str | None:
    """What the fill left: the position (perp) or the base asset's balance (spot)."""
    if held is None:
        return None
    if is_spot(symbol, m):
        base = m.base if m is not None else symbol.split("/")[0]
        return f"{esc(base)} balance: {esc(_size(m, held))}"
    return f"position {'now' if now else 'after'}: {esc(_size(m, held, sign=True)) if held else 'flat'}"


def _fee(fills: list[Fill], m: Market | None) -> str:
    """Fees in USD like the previews; a fee paid in the traded asset at the fill's price."""
    usd, other = ZERO, dict[str, Decimal]()
    for f in fills:
        if f.fee_asset.upper() in USD_STABLES:
            usd += f.fee
        elif m is not None and f.fee_asset == m.base:
            usd += f.fee * f.price
        else:
            other[f.fee_asset] = other.get(f.fee_asset, ZERO) + f.fee
    return " + ".join([fmt_usd(usd)] * bool(usd or not other) + [fmt_fee(v, a) for a, v in other.items()])


def fill_text(fills: list[Fill], order: Order | None, m: Market | None, held: str | None) -> str:
    """One order's fills (since the last message about it). `held`: holding_line()."""
    f0 = fills[0]
    size = sum((f.size for f in fills), ZERO)
    avg = sum((f.price * f.size for f in fills), ZERO) / size
    pnl = sum((f.realized_pnl for f in fills), ZERO)
    leg = {OrderType.TAKE_PROFIT: "Take profit ", OrderType.STOP: "Stop loss "}.get(order.order_type, "") \
        if order is not None else ""
    if order is None:
        head = "🔵 <b>Fill</b>"
    elif order.status is OrderStatus.FILLED:
        head = f"✅ <b>{leg}{'filled' if leg else 'Filled'}</b>"
    else:
        head = f"🟡 <b>{leg}{'partly filled' if leg else 'Partly filled'}</b>"
    lines = [f"{head} {esc(f0.side.value.upper())} {esc(_size(m, size))} {esc(f0.symbol)} on {esc(f0.exchange)}",
             f"avg {esc(fmt_price(m, avg))}" + (f" · trigger {esc(fmt_price(m, order.trigger_price))}" if leg
                                                and order is not None and order.trigger_price else "")
             + f" · {plural(len(fills), 'fill')} · fee {esc(_fee(fills, m))}"]
    if order is not None and (order.status is not OrderStatus.FILLED or size != order.filled):
        rest = "; the rest was cancelled" if order.status is OrderStatus.CANCELED else ""
        lines.append(f"order: {esc(_size(m, order.filled))} of {esc(_size(m, order.size))} filled{rest}")
    if pnl:
        lines.append(f"realized PnL {esc(fmt_usd(pnl, sign=True))}")
    if held:
        lines.append(held)
    return "\n".join(lines)


def liquidation_text(fills: list[Fill], m: Market | None, held: str | None) -> str:
    """The venue closed a position: market, size, price at its precision, what is left."""
    f0 = fills[0]
    size = sum((f.size for f in fills), ZERO)
    avg = sum((f.price * f.size for f in fills), ZERO) / size
    pnl = sum((f.realized_pnl for f in fills), ZERO)
    fee = sum((f.fee for f in fills), ZERO)
    lines = [f"🚨 <b>Liquidation</b>: {esc(f0.side.value.upper())} {esc(_size(m, size))} {esc(f0.symbol)}"
             f" on {esc(f0.exchange)}",
             f"at {esc(fmt_price(m, avg))}" + (f" · fee {esc(_fee(fills, m))}" if fee else "")]
    if pnl:
        lines.append(f"realized PnL {esc(fmt_usd(pnl, sign=True))}")
    if held:
        lines.append(held)
    return "\n".join(lines)


# Hyperliquid's status names for cancels and rejections, in words (other venues give words already)
_VENUE_WORDS = {
    "canceled": "cancelled (the venue's web app or another client)",
    "siblingFilledCanceled": "the other TP/SL leg filled",
    "marginCanceled": "not enough margin",
    "reduceOnlyCanceled": "reduce-only, with no position left to reduce",
    "liquidatedCanceled": "the position was liquidated",
    "scheduledCancel": "the dead man's switch fired",
    "selfTradeCanceled": "it would have traded with your own order",
    "openInterestCapCanceled": "the market's open interest cap",
    "delistedCanceled": "the market was delisted",
    "vaultWithdrawalCanceled": "a vault withdrawal",
    "reduceOnlyRejected": "reduce-only, with no position left to reduce",
    "perpMarginRejected": "not enough margin",
    "marketOrderNoLiquidityRejected": "no liquidity within the price limit",
}


def change_text(change: Change, m: Market | None) -> str | None:
    """An order-state change the venue made (a trigger fired, a cancel or rejection not by the bot)."""
    o = change.after
    title = change.leg or "Order"
    where = esc(o.exchange)
    said = [wrap(f"venue says: {clip(_VENUE_WORDS.get(change.reason, change.reason), 120)}")] if change.reason else []
    if change.kind is Kind.TRIGGERED:
        return "\n".join([f"🎯 <b>{title} triggered</b> on {where}", _what(o, m)])
    if change.kind is Kind.CANCELLED_BY_VENUE:
        return "\n".join([f"⚪ <b>{title} cancelled</b> on {where}, not by the bot", _what(o, m), *said])
    if change.kind is Kind.REJECTED:
        return "\n".join([f"❌ <b>{title} rejected</b> by {where}", _what(o, m), *said])
    return None


def adopted_text(venue: str, orders: list[Order], markets: dict[str, Market]) -> str:
    """Orders placed outside the bot (the venue's web app, another bot), in one message."""
    if len(orders) == 1:
        o = orders[0]
        return (f"ℹ️ <b>Order placed outside the bot</b> on {esc(venue)}\n{_what(o, markets.get(o.symbol))}"
                f" (order {esc(clip(o.order_id or '?', 24))})\nTracked, not touched.")
    lines = [f"ℹ️ <b>{len(orders)} orders placed outside the bot</b> on {esc(venue)}",
             "Tracked, not touched:"]
    lines += [_what(o, markets.get(o.symbol)) for o in orders[:ADOPTED_LISTED]]
    if len(orders) > ADOPTED_LISTED:
        lines.append(f"… and {len(orders) - ADOPTED_LISTED} more: /orders")
    return "\n".join(lines)


def stream_lost_text(venue: str, why: str) -> str:
    return "\n".join([f"🔴 <b>{esc(venue)} stream lost</b>; reconnecting.", wrap(f"why: {clip(why, 120)}"),
                      "Orders and limits keep working over REST."])


def stream_restored_text(venue: str) -> str:
    return f"🟢 <b>{esc(venue)} stream restored</b>\nMissed fills and order states were fetched again."


def describe(notice: Notice) -> tuple[str, str] | None:
    """(alert kind, HTML text) for a risk notice."""
    if isinstance(notice, KillReport):
        return "risk", kill_view(notice)
    if isinstance(notice, StateChanged):
        return "risk", "\n".join([f"⚠️ <b>Trading {esc(notice.new.value)}</b> (was {esc(notice.old.value)})",
                                  wrap(f"{clip(notice.reason, 200)}, by {who(notice.by)}")])
    if isinstance(notice, LossWarning):
        label = "Daily loss" if notice.kind == "daily_loss" else "Drawdown"
        value = fmt_usd(notice.value) if notice.kind == "daily_loss" else f"{fmt_num(notice.value, 2)}%"
        limit = fmt_usd(notice.limit) if notice.kind == "daily_loss" else f"{fmt_num(notice.limit, 2)}%"
        return "risk", (f"⚠️ <b>{label} at {int(notice.fraction * 100)}% of the limit</b>\n"
                        f"{esc(value)} of {esc(limit)}")
    if isinstance(notice, LimitBreached):
        if notice.value is None or notice.limit is None:  # equity or cash flows unknown for too long
            return "risk", "🛑 <b>Equity or cash flows unknown for too long</b>\nNew exposure is blocked."
        label = "Daily loss" if notice.kind == "daily_loss" else "Drawdown"  # the figures that breached
        value = fmt_usd(notice.value) if notice.kind == "daily_loss" else f"{fmt_num(notice.value, 2)}%"
        limit = fmt_usd(notice.limit) if notice.kind == "daily_loss" else f"{fmt_num(notice.limit, 2)}%"
        return "risk", f"🛑 <b>{label} {esc(value)} of {esc(limit)}: past the limit</b>\nNew exposure is blocked."
    if isinstance(notice, OrderAdopted):
        return "orders", adopted_text(notice.order.exchange, [notice.order], {})
    if isinstance(notice, VenueWaiting):
        return "risk", "\n".join([f"⏳ <b>Starting: waiting for {esc(notice.venue)}</b>",
                                  wrap(f"({clip(notice.why, 120)})"),
                                  "Until it is reconciled it accepts only closes",
                                  "and cancels; retrying."])
    if isinstance(notice, VenueReady):
        return "risk", f"✅ <b>{esc(notice.venue)} reconciled</b>: trading normally there."
    if isinstance(notice, SafetyNetRefused):
        return "risk", "\n".join([f"⚠️ <b>Dead man's switch refused</b> by {esc(notice.venue)}",
                                  wrap(clip(notice.message, 200))])
    return None


NOT_SENT = "\nNothing was sent to the venue; send the command\nagain if you still want it."


def resolved_text(n: OrderResolved, m: Market | None, what: str) -> str:
    """An order whose outcome was unknown, settled: the result edited into its preview."""
    return order_result_view(n.order, m, what) + (NOT_SENT if n.how == NOT_ON_VENUE else "")


# ---- the scheduled watches' texts (bot/jobs.py) ----
def heartbeat_text(state: str) -> str:
    return f"💓 tradebot is alive · trading {esc(state)}"


def liquidation_near_text(symbol: str, venue: str, m: Market | None, distance_pct: Decimal, mark: Decimal,
                          liquidation: Decimal) -> str:
    return (f"🚨 <b>{esc(symbol)} is {esc(fmt_num(distance_pct, 2))}% from liquidation</b> on {esc(venue)}:"
            f" mark {esc(fmt_price(m, mark))}, liquidation {esc(fmt_price(m, liquidation))}")


def margin_high_text(venue: str, used_pct: Decimal, warn_pct: Decimal) -> str:
    return (f"🚨 <b>Margin usage {esc(fmt_num(used_pct, 1))}%</b> on {esc(venue)}"
            f" (warning at {esc(fmt_num(warn_pct))}%): little room before liquidation.")


def stream_silent_text(venue: str, minutes: int) -> str:
    return f"🔕 No events from {esc(venue)} for {minutes} min; the stream may be stalled."
