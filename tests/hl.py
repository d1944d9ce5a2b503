"""A Hyperliquid emulator in the test's event loop, and an adapter pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp

from exchanges.hyperliquid.adapter import HyperliquidExchange
from sim.hyperliquid.server import HyperliquidSim
from sim.serve import start_site

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260e4c9a71f18484c9f997b308e59325"


@asynccontextmanager
async def hl_venue(**kw: Any) -> AsyncIterator[tuple[HyperliquidSim, str]]:
    sim = HyperliquidSim(**kw)
    runner, url = await start_site(sim.app())
    try:
        yield sim, url
    finally:
        await runner.cleanup()


def adapter(url: str, key: str = KEY, address: str = ADDRESS, **kw: Any) -> HyperliquidExchange:
    return HyperliquidExchange(api_url=url, ws_url=url.replace("http://", "ws://") + "/ws", account_address=address,
                               secret_key=key, is_mainnet=False, **kw)


async def control(url: str, route: str, body: dict[str, Any]) -> Any:
    async with aiohttp.ClientSession() as s, s.post(f"{url}/_sim/{route}", json=body) as r:
        return await r.json()


def fund(sim: HyperliquidSim, user: str = ADDRESS, amount: Decimal = Decimal(100_000)) -> None:
    sim.see(user)
