"""Aster public prices without an account: the paper exchange's live price source (`price_source: "aster"`).

Perp marks from `premiumIndex` keyed as the trader types them (BTC); the paper venue's spot markets are
Hyperliquid-style (X/USDC), so only perps are followed here.
"""

from __future__ import annotations

from decimal import Decimal

from exchanges.common.rest import RestClient


class AsterPrices:
    def __init__(self, base_url: str):
        self.http = RestClient(base_url, venue="aster", weight_per_minute=2400)

    async def mids(self) -> dict[str, Decimal]:
        rows = await self.http.read("GET", "/fapi/v1/premiumIndex", weight=10)
        return {r["symbol"].removesuffix("USDT"): Decimal(r["markPrice"]) for r in rows
                if str(r.get("symbol", "")).endswith("USDT") and Decimal(r.get("markPrice") or 0) > 0}

    async def close(self) -> None:
        await self.http.close()
