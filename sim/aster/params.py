"""Reading request parameters the way the venue does: mandatory ones, enums, decimals and filters.

Booleans are read as Java reads them (`Boolean.parseBoolean`: "true" in any case is true), so
"true", "TRUE" and the "True" Python clients send all count; unknown parameters are ignored (ccxt
sends a stray `postOnly=True` beside `timeInForce=GTX`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from exchanges.models import Market
from exchanges.precision import decimals_of
from sim.aster import errors as E
from sim.aster.errors import AsterError, err, invalid, mandatory, not_required

CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
SIDES = ("BUY", "SELL")
FUTURES_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                 "TRAILING_STOP_MARKET")
SPOT_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET")
TRIGGER_TYPES = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
TIFS = ("GTC", "IOC", "FOK", "GTX", "HIDDEN")
WORKING_TYPES = ("MARK_PRICE", "CONTRACT_PRICE")
PERCENT_UP, PERCENT_DOWN = Decimal("1.15"), Decimal("0.85")  # PERCENT_PRICE multipliers


def flag(params: dict[str, str], name: str) -> bool | None:
    raw = params.get(name)
    return None if raw is None or raw == "" else raw.lower() == "true"


def decimal(params: dict[str, str], name: str, *, required: bool = False) -> Decimal | None:
    raw = params.get(name, "")
    if raw == "":
        if required:
            raise mandatory(name)
        return None
    try:
        out = Decimal(raw)
    except InvalidOperation:
        raise mandatory(name) from None
    if not out.is_finite():
        raise mandatory(name)
    return out


def integer(params: dict[str, str], name: str, *, required: bool = False) -> int | None:
    raw = params.get(name, "")
    if raw == "":
        if required:
            raise mandatory(name)
        return None
    try:
        return int(raw)
    except ValueError:
        raise mandatory(name) from None


def json_list(params: dict[str, str], name: str) -> list[Any] | None:
    """A JSON array parameter. The venue's own demo sends Python reprs (single quotes): read too."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    for text in (raw, raw.replace("'", '"')):
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, list):
            return value
    raise mandatory(name)


def places(value: Decimal) -> int:
    exp = value.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


PRECISION = (-1111, "Precision is over the maximum defined for this asset.")


def check_price(m: Market, price: Decimal, max_price: Decimal) -> None:
    """PRICE_FILTER (minPrice is one tick): precision, min, max, tick. stopPrice and activationPrice too."""
    assert m.tick_size is not None
    if price <= 0:
        raise AsterError(-4001, "Price less than 0.")
    if places(price) > decimals_of(m.tick_size):
        raise err(PRECISION)
    if price < m.tick_size:
        raise err(E.PRICE_MIN)
    if price > max_price:
        raise err(E.PRICE_MAX)
    if price % m.tick_size != 0:
        raise err(E.TICK)


def check_qty(m: Market, qty: Decimal, max_qty: Decimal) -> None:
    """LOT_SIZE (MARKET_LOT_SIZE for market orders): above zero, precision, min, max, step."""
    if qty <= 0:
        raise err(E.QTY_ZERO)
    if places(qty) > decimals_of(m.lot_size):
        raise err(PRECISION)
    if qty < m.min_size:
        raise err(E.QTY_MIN)
    if qty > max_qty:
        raise err(E.QTY_MAX)
    if qty % m.lot_size != 0:
        raise err(E.STEP)


@dataclass
class OrderParams:
    """One new order as the venue reads it (futures or spot)."""

    native: str
    side: str
    type: str
    tif: str
    qty: Decimal | None
    price: Decimal | None
    stop_price: Decimal | None
    position_side: str
    reduce_only: bool
    close_position: bool
    working_type: str
    price_protect: bool
    client_id: str | None
    activation_price: Decimal | None
    callback_rate: Decimal | None
    resp_type: str
    quote_qty: Decimal | None
    builder: str | None
    fee_rate: Decimal | None

    @property
    def is_trigger(self) -> bool:
        return self.type in TRIGGER_TYPES


def read_order(params: dict[str, str], *, spot: bool, hedge: bool) -> OrderParams:
    """Parse a new order's parameters (POST order, or one item of batchOrders). Filters are checked
    by the order book, which knows the market."""
    native = params.get("symbol", "").upper()
    if not native:
        raise mandatory("symbol")
    side = params.get("side", "")
    if not side:
        raise mandatory("side")
    if side.upper() not in SIDES:
        raise err(E.INVALID_SIDE)
    kind = params.get("type", "")
    if not kind:
        raise mandatory("type")
    if kind.upper() not in (SPOT_TYPES if spot else FUTURES_TYPES):
        raise err(E.INVALID_TYPE)
    kind = kind.upper()
    tif = params.get("timeInForce", "")
    if tif and tif.upper() not in TIFS:
        raise err(E.INVALID_TIF)
    if kind == "LIMIT" and not tif:
        raise mandatory("timeInForce")
    if kind == "MARKET" and tif:
        raise not_required("timeInForce")
    position_side = (params.get("positionSide") or "BOTH").upper()
    reduce_only = flag(params, "reduceOnly")
    close_position = bool(flag(params, "closePosition"))
    if spot:
        position_side = "BOTH"
        if reduce_only is not None:
            raise not_required("reduceOnly")
    else:
        if position_side not in ("BOTH", "LONG", "SHORT"):
            raise AsterError(-4060, "Invalid position side.")
        if (position_side == "BOTH") == hedge:
            raise err(E.POSITION_SIDE)
        if hedge and reduce_only is not None:
            raise not_required("reduceOnly")
    if close_position:
        if kind not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise invalid("closePosition")
        if params.get("quantity"):
            raise err(E.CLOSE_POSITION_QTY)
        if reduce_only is not None:
            raise not_required("reduceOnly")
    qty = decimal(params, "quantity")
    quote_qty = decimal(params, "quoteOrderQty") if spot else None
    if qty is None and not close_position and not (spot and kind == "MARKET" and quote_qty is not None):
        raise mandatory("quantity")
    price = decimal(params, "price")
    if kind in ("LIMIT", "STOP", "TAKE_PROFIT") and price is None:
        raise mandatory("price")
    stop_price = decimal(params, "stopPrice")
    if kind in ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET") and stop_price is None:
        raise mandatory("stopPrice")
    callback = decimal(params, "callbackRate")
    if kind == "TRAILING_STOP_MARKET":
        if callback is None:
            raise mandatory("callbackRate")
        if not Decimal("0.1") <= callback <= 5:
            raise invalid("callbackRate")
    working = (params.get("workingType") or "CONTRACT_PRICE").upper()
    if working not in WORKING_TYPES:
        raise AsterError(-4031, f"Invalid parameter working type: `{params.get('workingType')}`")
    client_id = params.get("newClientOrderId") or None
    if client_id is not None and not CLIENT_ID.match(client_id):
        raise err(E.CLIENT_ID)
    resp = (params.get("newOrderRespType") or "ACK").upper()
    if resp not in ("ACK", "RESULT"):
        raise AsterError(-1136, "Invalid newOrderRespType.")
    return OrderParams(
        native=native, side=side.upper(), type=kind, tif=(tif or "GTC").upper(), qty=qty, price=price,
        stop_price=stop_price, position_side=position_side, reduce_only=bool(reduce_only),
        close_position=close_position, working_type=working, price_protect=bool(flag(params, "priceProtect")),
        client_id=client_id, activation_price=decimal(params, "activationPrice"), callback_rate=callback,
        resp_type=resp, quote_qty=quote_qty, builder=(params.get("builder") or "").lower() or None,
        fee_rate=decimal(params, "feeRate"),
    )


def batch_item(item: Any) -> dict[str, str]:
    """One element of batchOrders as string parameters."""
    if not isinstance(item, dict):
        raise mandatory("batchOrders")
    return {str(k): ("true" if v is True else "false" if v is False else str(v)) for k, v in item.items()}
