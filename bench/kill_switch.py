"""Kill switch: 50 resting orders and 5 positions on emulated Hyperliquid, 25 ms one-way latency
(50 ms round trip) on every request: time from firing until everything is cancelled and flat,
read back from the venue.

    python -m bench.kill_switch [ROUNDS]     (default 5)

Goal: <= 250 ms. The baseline beside it is one sequential request per order and per position,
what a naive kill does.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from decimal import Decimal

import aiohttp

from bench.common import ADDRESS, HEADER, KEY, emulator, row
from bot.app import App
from bot.config import parse_config
from exchanges.models import OrderRequest, Side

SYMBOLS = ("BTC", "ETH", "SOL", "DOGE", "HYPE")
SIZES = {"BTC": "0.01", "ETH": "0.3", "SOL": "5", "DOGE": "3000", "HYPE": "20"}


async def control(url: str, route: str, body: dict) -> None:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as s, s.post(f"{url}/_sim/{route}", json=body) as r:
        assert r.status == 200


async def load(app: App) -> None:
    orders = app.risk.orders
    for i in range(50):
        await orders.place(OrderRequest("hyperliquid", "ETH", Side.BUY, Decimal("0.01"), Decimal(3400 - i)))
    for sym in SYMBOLS:
        await orders.place(OrderRequest("hyperliquid", sym, Side.BUY, Decimal(SIZES[sym])))


async def run(url: str, rounds: int, db: str) -> tuple[list[float], list[float]]:
    config = parse_config({
        "exchanges": {"hyperliquid": {"enabled": True, "testnet": True, "base_url": url, "account_address": ADDRESS,
                                      "secret_key": KEY, "rate_limit": {"requests_per_minute": 10**9}}},
        "web": {"enabled": False},  # no chat page: the path measured is the venue's
        "storage": {"path": db}, "kill": {"flatten": "always"},
        "trading": {"max_order_size": 10**9, "max_leverage": 20, "position_limits": {
            "max_position_size_usd": 10**9, "max_total_positions": 10}},
        "risk": {"max_orders_per_minute": 10**6, "position_size_limit": 1, "max_data_age_seconds": 60},
    }, env={})[0]
    app = App(config)
    await app.start()
    venue = app.exchanges["hyperliquid"]
    ours, naive = [], []
    try:
        for _ in range(rounds):
            for measure in ("ours", "naive"):
                await app.risk.kill.resume("bench")
                await load(app)
                assert len(await venue.open_orders()) == 50 and len(await venue.positions()) == 5
                await control(url, "fault", {"kind": "latency", "ms": 25, "duration_s": 600})
                t0 = time.perf_counter()
                if measure == "ours":
                    report = await app.risk.kill.fire("bench", "bench", flatten=True)
                    assert report.ok, report
                else:
                    for o in await venue.open_orders():  # one request per order, then per position
                        await venue.cancel(o.symbol, order_id=o.order_id)
                    for p in await venue.positions():
                        await app.risk.orders.send(app.risk.orders.close_request(p), reducing=True)
                dt = (time.perf_counter() - t0) * 1000
                await control(url, "clear", {})
                # the venue's own word (REST), not the bot's streamed view of it
                left = await venue.http.info({"type": "frontendOpenOrders", "user": venue.user})
                state = await venue.http.info({"type": "clearinghouseState", "user": venue.user})
                assert left == [] and state["assetPositions"] == [], (left, state["assetPositions"])
                (ours if measure == "ours" else naive).append(dt)
    finally:
        await app.stop()
    return ours, naive


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with emulator("--hyperliquid", "0", "--tick", "0", "--weight-per-minute", str(10**9)) as urls, \
            tempfile.TemporaryDirectory() as tmp:
        ours, naive = asyncio.run(run(urls["hyperliquid"], rounds, f"{tmp}/bench.db"))
    print("50 resting orders + 5 positions, 25 ms one-way latency")
    print(HEADER)
    print(row("naive: one request per item", naive))
    print(row("tradebot kill switch", ours))
    print(f"kill switch p50 {sorted(ours)[len(ours) // 2]:.0f} ms  (goal <= 250 ms)")


if __name__ == "__main__":
    main()
