"""GET exchangeInfo (futures and spot) and the leverage brackets, in the docs' shapes.

Futures symbols carry `orderTypes` (what live answers and Binance use; the docs' sample spells it
`OrderType`, which the fixture's note flags as a doc quirk).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.precision import to_wire
from sim.aster.markets import MIN_NOTIONAL, QUOTE, Catalog, maint_margin_ratio
from sim.aster.params import FUTURES_TYPES, SPOT_TYPES, TIFS

MAX_NOTIONAL = 50_000_000


def _filters(catalog: Catalog, native: str, spot: bool) -> list[dict[str, Any]]:
    item = catalog.listings[native]
    max_price = to_wire(Decimal(item.price) * 100)
    out: list[dict[str, Any]] = [
        {"filterType": "PRICE_FILTER", "maxPrice": max_price, "minPrice": item.tick, "tickSize": item.tick},
        {"filterType": "LOT_SIZE", "maxQty": item.max_qty, "minQty": item.min_qty, "stepSize": item.step},
        {"filterType": "MARKET_LOT_SIZE", "maxQty": item.market_max_qty, "minQty": item.min_qty,
         "stepSize": item.step},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
    ]
    if spot:
        notional = to_wire(MIN_NOTIONAL)
        out += [
            {"filterType": "MIN_NOTIONAL", "minNotional": notional},
            {"filterType": "MAX_NOTIONAL", "maxNotional": str(MAX_NOTIONAL)},
            {"filterType": "NOTIONAL", "minNotional": notional, "maxNotional": str(MAX_NOTIONAL), "avgPriceMins": 5,
             "applyMinToMarket": True, "applyMaxToMarket": True},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.15", "multiplierDown": "0.85",
             "multiplierDecimal": "2"},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "1.15", "bidMultiplierDown": "0.85",
             "askMultiplierUp": "1.15", "askMultiplierDown": "0.85", "avgPriceMins": 5, "multiplierDecimal": "2"},
        ]
    else:
        out += [
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 100},
            {"filterType": "MIN_NOTIONAL", "notional": to_wire(MIN_NOTIONAL)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.1500", "multiplierDown": "0.8500",
             "multiplierDecimal": 4},
        ]
    return out


def futures(catalog: Catalog, now: int) -> dict[str, Any]:
    symbols = []
    for native, item in catalog.listings.items():
        mmr = maint_margin_ratio(item.max_leverage) * 100
        symbols.append({
            "symbol": native, "pair": native, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
            "onboardDate": item.onboard_ms, "status": "TRADING", "maintMarginPercent": f"{mmr:.4f}",
            "requiredMarginPercent": f"{mmr * 2:.4f}", "baseAsset": item.base, "quoteAsset": QUOTE,
            "marginAsset": QUOTE, "pricePrecision": catalog.price_decimals(native),
            "quantityPrecision": catalog.qty_decimals(native), "baseAssetPrecision": 8, "quotePrecision": 8,
            "underlyingType": "COIN", "underlyingSubType": ["Top"], "settlePlan": 0, "triggerProtect": "0.0500",
            "filters": _filters(catalog, native, False), "orderTypes": list(FUTURES_TYPES),
            "timeInForce": list(TIFS), "liquidationFee": "0.010000", "marketTakeBound": "0.05",
        })
    return {
        "exchangeFilters": [],
        "rateLimits": [
            {"interval": "MINUTE", "intervalNum": 1, "limit": 2400, "rateLimitType": "REQUEST_WEIGHT"},
            {"interval": "MINUTE", "intervalNum": 1, "limit": 1200, "rateLimitType": "ORDERS"},
        ],
        "serverTime": now,
        "assets": [{"asset": QUOTE, "marginAvailable": True, "autoAssetExchange": 0}] + [
            {"asset": i.base, "marginAvailable": False, "autoAssetExchange": None} for i in catalog.listings.values()],
        "symbols": symbols,
        "timezone": "UTC",
    }


def spot(catalog: Catalog, now: int, weight_per_minute: int = 6000) -> dict[str, Any]:
    symbols = []
    for native, item in catalog.listings.items():
        symbols.append({
            "status": "TRADING", "baseAsset": item.base, "quoteAsset": QUOTE,
            "pricePrecision": catalog.price_decimals(native), "quantityPrecision": catalog.qty_decimals(native),
            "baseAssetPrecision": 8, "quotePrecision": 8, "filters": _filters(catalog, native, True),
            "orderTypes": list(SPOT_TYPES), "timeInForce": list(TIFS), "symbol": native, "ocoAllowed": False,
        })
    return {
        "timezone": "UTC",
        "serverTime": now,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": QUOTE}] + [{"asset": i.base} for i in catalog.listings.values()],
        "symbols": symbols,
    }


def leverage_bracket(catalog: Catalog, native: str) -> dict[str, Any]:
    item = catalog.listings[native]
    return {"symbol": native, "brackets": [{
        "bracket": 1, "initialLeverage": item.max_leverage, "notionalCap": MAX_NOTIONAL, "notionalFloor": 0,
        "maintMarginRatio": float(maint_margin_ratio(item.max_leverage)), "cum": 0.0}]}
