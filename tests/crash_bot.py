"""Child process for the SIGKILL tests: a bot that places one order on the emulated Hyperliquid and
announces the point it has reached, so the parent can kill it there."""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal

from bot.app import App
from bot.config import parse_config
from exchanges.models import OrderRequest, Side


async def main(db: str, url: str, mode: str) -> None:
    config = parse_config({
        "exchanges": {"hyperliquid": {"enabled": True, "testnet": True, "base_url": url,
                                      "account_address": "0x14791697260E4c9A71f18484C9f997B308e59325",
                                      "secret_key": "0x" + "0123456789" * 6 + "0123"}},
        "storage": {"path": db}, "risk": {"position_size_limit": 1},
    }, env={})[0]
    app = App(config)
    await app.start()
    venue = app.exchanges["hyperliquid"]
    real_place = venue.place

    async def place(request):  # type: ignore[no-untyped-def]
        print(f"SENDING {request.client_id}", flush=True)
        if mode == "before-send":
            await asyncio.sleep(3600)  # killed here: the intent is written, nothing went out
        return await real_place(request)

    venue.place = place  # type: ignore[method-assign]
    print("READY", flush=True)
    await app.risk.orders.place(OrderRequest("hyperliquid", "ETH", Side.BUY, Decimal("0.5"), Decimal("3400")))
    print("DONE", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
