"""Order path: from a Confirm press reaching the bot to the order accepted by the emulated venue,
beside the official SDK's bare `Exchange.order` against the same emulator, in the same run.

    python -m bench.order_path [N]        (default 500 orders each)

Goal: ratio of p50 (and p99) <= 1.0: the whole risk-gated, persisted path no slower than the SDK's
bare call. Both run against one emulator process on loopback.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from decimal import Decimal

import eth_account
from hyperliquid.exchange import Exchange as SdkExchange
from hyperliquid.info import Info

from bench.common import ADDRESS, HEADER, KEY, emulator, pct, row
from bot.app import App
from bot.config import parse_config
from exchanges.models import OrderRequest, OrderStatus, Side

SECOND_KEY = "0x" + "42" * 32


async def ours(url: str, n: int, db: str) -> tuple[list[float], list[float]]:
    config = parse_config({
        "exchanges": {"hyperliquid": {"enabled": True, "testnet": True, "base_url": url, "account_address": ADDRESS,
                                      "secret_key": KEY, "rate_limit": {"requests_per_minute": 10**9}}},
        "storage": {"path": db},
        "trading": {"max_order_size": 10**9, "position_limits": {"max_position_size_usd": 10**9}},
        "risk": {"max_orders_per_minute": 10**6, "position_size_limit": 1, "max_data_age_seconds": 60},
    }, env={})[0]
    app = App(config)
    await app.start()
    venue = app.exchanges["hyperliquid"]
    real_place = venue.place
    accepted_at: list[float] = []

    async def place(request):  # type: ignore[no-untyped-def]
        order = await real_place(request)
        accepted_at.append(time.perf_counter())  # the venue's answer has arrived: accepted
        return order

    venue.place = place  # type: ignore[method-assign]
    times, full = [], []
    try:
        for i in range(n + 20):
            req = OrderRequest("hyperliquid", "ETH", Side.BUY, Decimal("0.01"), Decimal(3400 - i % 50))
            token = (await app.desk.quote_order(1, 1, req, "buy")).token
            quote = await app.desk.quote_order(1, 1, req, "buy") if token is None else None
            assert token is not None, quote and quote.preview.refusals
            t0 = time.perf_counter()
            out = await app.desk.confirm(token, 1, "bench")  # what the Confirm button handler runs
            dt = (time.perf_counter() - t0) * 1000
            assert out.status == "placed" and out.order and out.order.status is OrderStatus.OPEN, out
            if i >= 20:  # warm-up: connections, caches
                times.append((accepted_at[-1] - t0) * 1000)
                full.append(dt)
    finally:
        await app.stop()
    return times, full


def sdk(url: str, n: int) -> list[float]:
    info = Info(url, skip_ws=True)
    info.user_state(eth_account.Account.from_key(SECOND_KEY).address)  # funded on first sight
    ex = SdkExchange(eth_account.Account.from_key(SECOND_KEY), url)
    times = []
    for i in range(n + 20):
        t0 = time.perf_counter()
        res = ex.order("ETH", True, 0.01, float(3400 - i % 50), {"limit": {"tif": "Gtc"}})
        dt = (time.perf_counter() - t0) * 1000
        assert res["status"] == "ok" and "resting" in res["response"]["data"]["statuses"][0], res
        if i >= 20:
            times.append(dt)
    return times


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with emulator("--hyperliquid", "0", "--tick", "0", "--weight-per-minute", str(10**9)) as urls, \
            tempfile.TemporaryDirectory() as tmp:
        url = urls["hyperliquid"]
        base = sdk(url, n)
        mine, full = asyncio.run(ours(url, n, f"{tmp}/bench.db"))
    print(HEADER)
    print(row("official SDK Exchange.order", base))
    print(row("tradebot Confirm -> accepted", mine))
    print(row("tradebot Confirm -> result stored", full))
    print(f"ratio p50 {pct(mine, 50) / pct(base, 50):.2f}   ratio p99 {pct(mine, 99) / pct(base, 99):.2f}"
          "   (goal <= 1.00)")


if __name__ == "__main__":
    main()
