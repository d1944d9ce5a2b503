"""Hyperliquid public market data without an account: the paper exchange's live price source."""

from __future__ import annotations

from decimal import Decimal

from exchanges.hyperliquid import parse
from exchanges.hyperliquid.http import HyperliquidHttp


class HyperliquidPrices:
    def __init__(self, api_url: str):
        self.http = HyperliquidHttp(api_url)
        self._by_coin: dict[str, str] = {}

    async def mids(self) -> dict[str, Decimal]:
        """Mid prices keyed by the symbol the trader types (BTC, PURR/USDC)."""
        if not self._by_coin:
            meta = await self.http.info({"type": "meta"})
            spot = await self.http.info({"type": "spotMeta"})
            markets = {**parse.parse_perp_markets(meta), **parse.parse_spot_markets(spot)}
            self._by_coin = {m.native: m.symbol for m in markets.values()}
        raw = await self.http.info({"type": "allMids"})
        return {self._by_coin[c]: Decimal(px) for c, px in raw.items() if c in self._by_coin}

    async def close(self) -> None:
        await self.http.close()
