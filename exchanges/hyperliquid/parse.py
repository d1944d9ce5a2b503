"""Pure parsers of Hyperliquid /info payloads into the domain model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.models import Market, MarketKind

VENUE = "hyperliquid"
PERP_MAX_DECIMALS = 6
SPOT_MAX_DECIMALS = 8
PRICE_SIG_FIGS = 5
MIN_NOTIONAL = Decimal(10)  # "Order must have minimum value of $10."
SPOT_ASSET_OFFSET = 10_000


def parse_perp_markets(meta: dict[str, Any], venue: str = VENUE) -> dict[str, Market]:
    """`meta` (or metaAndAssetCtxs[0]): asset id = index in universe; delisted markets are not tradable."""
    out: dict[str, Market] = {}
    for asset_id, u in enumerate(meta["universe"]):
        sz_dec = int(u["szDecimals"])
        out[u["name"]] = Market(
            exchange=venue, symbol=u["name"], kind=MarketKind.PERP, base=u["name"], quote="USDC", native=u["name"],
            lot_size=Decimal(1).scaleb(-sz_dec), price_sig_figs=PRICE_SIG_FIGS,
            price_decimals=PERP_MAX_DECIMALS - sz_dec, min_notional=MIN_NOTIONAL,
            max_leverage=int(u["maxLeverage"]), asset_id=asset_id, tradable=not u.get("isDelisted", False),
        )
    return out


def parse_spot_markets(spot_meta: dict[str, Any], venue: str = VENUE) -> dict[str, Market]:
    """`spotMeta`: the trader types BASE/QUOTE; the wire name is "PURR/USDC" or "@index"."""
    tokens = {t["index"]: t for t in spot_meta["tokens"]}
    out: dict[str, Market] = {}
    for u in spot_meta["universe"]:
        base, quote = tokens[u["tokens"][0]], tokens[u["tokens"][1]]
        sz_dec = int(base["szDecimals"])
        symbol = f"{base['name']}/{quote['name']}"
        out[symbol] = Market(
            exchange=venue, symbol=symbol, kind=MarketKind.SPOT, base=base["name"], quote=quote["name"],
            native=u["name"], lot_size=Decimal(1).scaleb(-sz_dec), price_sig_figs=PRICE_SIG_FIGS,
            price_decimals=SPOT_MAX_DECIMALS - sz_dec, min_notional=MIN_NOTIONAL, max_leverage=1,
            asset_id=SPOT_ASSET_OFFSET + int(u["index"]),
        )
    return out
