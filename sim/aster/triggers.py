"""Conditional orders: when they fire, and what enters the engine when they do.

The docs' rules: STOP / STOP_MARKET fire for a BUY when the price is at or above stopPrice, for a
SELL at or below; TAKE_PROFIT / TAKE_PROFIT_MARKET the other way round. TRAILING_STOP_MARKET arms
when the price reaches activationPrice (at once without one) and fires when the price comes back
callbackRate percent from the best price since. The emulator has no index or basis: its last price
is its mark price, so MARK_PRICE and CONTRACT_PRICE orders fire on the same moves (and priceProtect
never holds one back). A fired order keeps its id and becomes a MARKET (or, for STOP / TAKE_PROFIT,
a LIMIT at its price); closePosition takes the whole position at that moment. One that cannot go
into the engine (nothing left to reduce, margin) is EXPIRED.
"""

from __future__ import annotations

from decimal import Decimal

from sim.accounts import position_key
from sim.aster.errors import AsterError
from sim.aster.orders import AsterOrder, Orders

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def would_trigger(o: AsterOrder, price: Decimal) -> bool:
    """Would this conditional order fire at `price` (placing one that would is refused, -2021)."""
    if o.orig_type == "TRAILING_STOP_MARKET":
        if o.activate_price is None:
            return False
        return o.activate_price >= price if o.side == "BUY" else o.activate_price <= price
    stop_like = o.orig_type in ("STOP", "STOP_MARKET")
    up = (o.side == "BUY") == stop_like
    return price >= o.stop_price if up else price <= o.stop_price


def _trailing_fires(o: AsterOrder, price: Decimal) -> bool:
    assert o.price_rate is not None
    if not o.armed:
        reached = o.activate_price is None or (price <= o.activate_price if o.side == "BUY"
                                                else price >= o.activate_price)
        if not reached:
            return False
        o.armed, o.extreme = True, price
    assert o.extreme is not None
    rate = o.price_rate / HUNDRED
    if o.side == "SELL":
        o.extreme = max(o.extreme, price)
        return price <= o.extreme * (1 - rate)
    o.extreme = min(o.extreme, price)
    return price >= o.extreme * (1 + rate)


def check(orders: Orders, natives: list[str] | None = None) -> None:
    """Fire whatever the current prices trigger, oldest order first."""
    waiting = sorted((o for o in orders.orders.values() if o.waiting and (natives is None or o.native in natives)),
                     key=lambda o: o.order_id)
    for o in waiting:
        if not o.waiting:  # gone while an earlier one fired
            continue
        price = orders.mark(o.native)
        fires = _trailing_fires(o, price) if o.orig_type == "TRAILING_STOP_MARKET" else would_trigger(o, price)
        if fires:
            fire(orders, o)


def _position(orders: Orders, o: AsterOrder) -> Decimal:
    acct = orders.e.accounts.get(o.user)
    if acct is None:
        return ZERO
    leg = o.position_side if o.position_side != "BOTH" else None
    pos = acct.positions.get(position_key(orders.market(o.native), leg))
    return pos.size if pos is not None else ZERO


def fire(orders: Orders, o: AsterOrder) -> None:
    o.type = "LIMIT" if o.orig_type in ("STOP", "TAKE_PROFIT") else "MARKET"
    o.update_time = orders.clock()
    size = o.qty
    if not orders.spot and (o.close_position or o.reduce_only):
        held = _position(orders, o)
        closable = -held if o.side == "BUY" else held  # what this side can take off
        size = max(ZERO, closable) if o.close_position else min(size, max(ZERO, closable))
    if size <= 0:
        _expire(orders, o)
        return
    if o.close_position:
        o.qty = size  # what "close all" came to when it fired
    try:
        orders.submit(o, size)
    except AsterError:
        _expire(orders, o)


def _expire(orders: Orders, o: AsterOrder) -> None:
    if o.is_open:
        o.status, o.update_time = "EXPIRED", orders.clock()
        orders.emit(o, "EXPIRED", None)
