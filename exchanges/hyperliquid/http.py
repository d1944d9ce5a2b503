"""Hyperliquid's REST edge: its two paths and its weights, on the shared choke point
(exchanges/common/rest.py: session, weight budget, breaker, error mapping).

Every /info type weighs 20 unless listed; an /exchange action weighs 1 + (orders in it) // 40.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from exchanges.common.breaker import CircuitBreaker
from exchanges.common.rest import RestClient, WeightBudget

VENUE = "hyperliquid"
INFO_WEIGHTS = {"l2Book": 2, "allMids": 2, "clearinghouseState": 2, "orderStatus": 2, "spotClearinghouseState": 2,
                "exchangeStatus": 2, "userRole": 60}

__all__ = ["HyperliquidHttp", "WeightBudget"]


class HyperliquidHttp(RestClient):
    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None = None, weight_per_minute: int = 1200,
                 reserve: int = 100, timeout_s: float = 10.0, max_wait_s: float = 30.0,
                 breaker: CircuitBreaker | None = None):
        super().__init__(base_url, venue=VENUE, session=session, weight_per_minute=weight_per_minute,
                         reserve=reserve, timeout_s=timeout_s, max_wait_s=max_wait_s, breaker=breaker)

    async def info(self, payload: dict[str, Any], *, retries: int = 3) -> Any:
        weight = INFO_WEIGHTS.get(str(payload.get("type")), 20)
        return await self.read("POST", "/info", weight=weight, retries=retries, body=payload)

    async def exchange(self, body: dict[str, Any], *, cancel: bool = False, batch: int = 1) -> Any:
        return await self.request("POST", "/exchange", weight=1 + batch // 40, write=True, priority=cancel, body=body)
