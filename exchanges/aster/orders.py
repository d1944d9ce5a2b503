"""How the bot's orders are written for Aster (pure): the order parameters, TP/SL legs and what the
bot is shown of them. Market orders go as LIMIT IOC at the slippage cap (the venue's MARKET has no
price limit); triggers as STOP(_MARKET) / TAKE_PROFIT(_MARKET) on the mark price."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

from exchanges.aster.errors import is_error, map_error
from exchanges.errors import ExchangeError
from exchanges.models import Fill, Market, MarketKind, Order, OrderRequest, OrderType, TimeInForce
from exchanges.precision import to_wire

VENUE = "aster"
TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.ALO: "GTX"}
LEG_TAGS = ("-tp", "-sl")  # a TP/SL leg's client id: its entry's, tagged


def order_params(req: OrderRequest, m: Market, cap: Decimal | None) -> dict[str, Any]:
    p: dict[str, Any] = {"symbol": m.native, "side": req.side.value.upper()}
    if req.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT):
        assert req.trigger_price is not None
        market = req.price is None
        kind = {OrderType.STOP: "STOP", OrderType.TAKE_PROFIT: "TAKE_PROFIT"}[req.order_type]
        p["type"] = f"{kind}_MARKET" if market else kind
        p["stopPrice"] = to_wire(m.round_price(req.trigger_price))
        p["workingType"] = "MARK_PRICE"
        if not market:
            p["price"], p["timeInForce"] = to_wire(req.price), "GTC"  # type: ignore[arg-type]
    elif cap is not None:  # a market order: IOC at the slippage cap
        p.update(type="LIMIT", timeInForce="IOC", price=to_wire(cap))
    else:
        p.update(type="LIMIT", timeInForce=TIF[req.tif], price=to_wire(req.price))  # type: ignore[arg-type]
    p["quantity"] = to_wire(req.size)
    if req.reduce_only and m.kind is MarketKind.PERP:
        p["reduceOnly"] = "true"
    if req.client_id:
        p["newClientOrderId"] = req.client_id
    if m.kind is MarketKind.PERP:
        p["newOrderRespType"] = "RESULT"
    return p


def leg(req: OrderRequest, trigger: Decimal, kind: OrderType) -> OrderRequest:
    """A TP/SL leg of an entry: the other side, reduce-only, the entry's size; its client id says
    whose leg it is (the venue would give it a random one otherwise)."""
    tag = "tp" if kind is OrderType.TAKE_PROFIT else "sl"
    cid = f"{(req.client_id or '')[:33]}-{tag}"
    return OrderRequest(VENUE, req.symbol, req.side.opposite, req.size, None, kind, reduce_only=True,
                        client_id=cid, trigger_price=trigger)


def is_leg(client_id: str | None) -> bool:
    return bool(client_id) and str(client_id)[-3:] in LEG_TAGS


def shown(order: Order) -> Order:
    """A TP/SL leg's client id is this adapter's own bookkeeping (to cancel one leg when the other
    fills): the bot sees the legs as the venue's legs of its entry, without one, as on every venue."""
    return replace(order, client_id=None) if is_leg(order.client_id) else order


def shown_fill(fill: Fill) -> Fill:
    return replace(fill, client_id=None) if is_leg(fill.client_id) else fill


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def item_error(item: Any) -> ExchangeError | None:
    """A batch answer's item: an order, or its own `{code, msg}`."""
    return map_error(item) if is_error(item) else None
