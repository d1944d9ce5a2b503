"""Aster's user-data stream events, parsed into the domain model (pure).

Futures `ORDER_TRADE_UPDATE` and spot `executionReport` carry an order's state and, when `x` is
TRADE, one fill; the fill id is the trade id per symbol, as `userTrades` / `myTrades` name it, so a
fill told by the stream and found again by a REST backfill is the same fill.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.aster.parse import TIFS, TYPES, VENUE, Natives, fill_id, order_status
from exchanges.models import Fill, Order, OrderType, Side, TimeInForce


def _dec(raw: Any) -> Decimal:
    return Decimal(str(raw)) if raw not in (None, "") else Decimal(0)


def _positive(raw: Any) -> Decimal | None:
    d = _dec(raw)
    return d if d > 0 else None


def _symbol(raw: str, by_native: Natives) -> str:
    m = by_native.get(raw)
    return m.symbol if m else raw


def parse_order_event(o: dict[str, Any], ts_ms: int, by_native: Natives, venue: str = VENUE) -> Order:
    """The `o` of ORDER_TRADE_UPDATE, or a whole executionReport (same letters)."""
    kind = str(o.get("ot") or o.get("o"))
    filled = _dec(o.get("z"))
    avg = _positive(o.get("ap"))
    if avg is None and filled > 0 and _dec(o.get("Z")) > 0:
        avg = _dec(o.get("Z")) / filled  # spot: cumulative quote over cumulative quantity
    return Order(venue, _symbol(str(o["s"]), by_native), Side(str(o["S"]).lower()), _dec(o.get("q")),
                 _positive(o.get("p")), order_status(str(o["X"]), kind), order_id=str(o["i"]),
                 client_id=o.get("c") or None, order_type=TYPES.get(kind, OrderType.LIMIT),
                 tif=TIFS.get(str(o.get("f")), TimeInForce.GTC), reduce_only=bool(o.get("R", False)),
                 filled=filled, avg_price=avg, trigger_price=_positive(o.get("sp", o.get("P"))),
                 updated_ms=int(o.get("T") or ts_ms), reason="expired" if o.get("X") == "EXPIRED" else None)


def parse_fill_event(o: dict[str, Any], by_native: Natives, *, spot: bool, venue: str = VENUE) -> Fill | None:
    """The fill an execution report carries (x = TRADE), else None."""
    if o.get("x") != "TRADE" or _dec(o.get("l")) <= 0:
        return None
    return Fill(venue, fill_id(str(o["s"]), o["t"], spot), str(o["i"]), _symbol(str(o["s"]), by_native),
                Side(str(o["S"]).lower()), _dec(o.get("L")), _dec(o.get("l")), abs(_dec(o.get("n"))), int(o["T"]),
                client_id=o.get("c") or None, fee_asset=str(o.get("N") or "USDT"), realized_pnl=_dec(o.get("rp")),
                is_maker=bool(o.get("m", False)))
