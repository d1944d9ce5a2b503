"""Pure parsers of Aster REST payloads into the domain model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.models import Market, MarketKind

VENUE = "aster"


def _filters(sym: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["filterType"]: f for f in sym.get("filters", [])}


def parse_markets(exchange_info: dict[str, Any], kind: MarketKind, venue: str = VENUE,
                  max_leverage: dict[str, int] | None = None) -> dict[str, Market]:
    """`/fapi/v1/exchangeInfo` (perps: the trader types the base, "BTC") or `/api/v1/exchangeInfo`
    (spot: "BTC/USDT"). Filters drive rounding; pricePrecision/quantityPrecision are ignored as the
    docs say they are not the tick and the step. exchangeInfo carries no leverage cap: it comes from
    `/fapi/v1/leverageBracket` as `max_leverage` (native symbol -> cap); unknown caps count as 1x,
    so nothing is allowed that the venue has not said it allows."""
    caps = max_leverage or {}
    out: dict[str, Market] = {}
    for s in exchange_info["symbols"]:
        f = _filters(s)
        price, lot = f["PRICE_FILTER"], f["LOT_SIZE"]
        notional = f.get("MIN_NOTIONAL", {})
        min_notional = notional.get("notional") or notional.get("minNotional") or "0"
        base, quote = s["baseAsset"], s["quoteAsset"]
        symbol = base if kind is MarketKind.PERP else f"{base}/{quote}"
        if kind is MarketKind.PERP and s.get("contractType", "PERPETUAL") != "PERPETUAL":
            continue
        out[symbol] = Market(
            exchange=venue, symbol=symbol, kind=kind, base=base, quote=quote, native=s["symbol"],
            lot_size=Decimal(lot["stepSize"]), tick_size=Decimal(price["tickSize"]),
            min_size=Decimal(lot.get("minQty", "0")), max_size=Decimal(lot["maxQty"]) if "maxQty" in lot else None,
            min_notional=Decimal(min_notional), max_leverage=caps.get(s["symbol"], 1) if kind is MarketKind.PERP else 1,
            tradable=s.get("status") == "TRADING",
        )
    return out
