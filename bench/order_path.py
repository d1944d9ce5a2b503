"""Order path: from a Confirm press reaching the bot to the order accepted by the emulated venue,
beside the official SDK's bare `Exchange.order` against the same emulator, in the same run.

    python -m bench.order_path [N] [PAUSE_MS]      (default 500 orders each, back to back)

Goal: ratio of p50 (and p99) <= 1.0: the whole risk-gated, persisted path no slower than the SDK's
bare call. Both run against one emulator process on loopback (pinned to its own core), in
alternating blocks of 25 orders: the SDK in its own process, waiting while the bot runs and the
other way round, so both see the same machine and the same emulator state (each cancels its
resting orders after its block, so the book does not grow). Back to back, the bot's
timed path shares the CPU with the stream traffic of its previous order (the harder case); PAUSE_MS
> 0 pauses before each order on both sides, as a trader reading a quote would (an idle machine
then wakes up slower for both).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
from decimal import Decimal
from multiprocessing.connection import Connection

import eth_account
from hyperliquid.exchange import Exchange as SdkExchange
from hyperliquid.info import Info

from bench.common import ADDRESS, HEADER, KEY, emulator, pct, row
from bot.app import App
from bot.config import parse_config
from exchanges.models import OrderRequest, OrderStatus, Side

BLOCK = 25
WARM_UP = 20
SECOND_KEY = "0x" + "42" * 32


def sdk_worker(url: str, pause_s: float, conn: Connection) -> None:
    """The SDK in its own process: runs a block of orders whenever asked, answers with the timings."""
    info = Info(url, skip_ws=True)
    info.user_state(eth_account.Account.from_key(SECOND_KEY).address)  # funded on first sight
    ex = SdkExchange(eth_account.Account.from_key(SECOND_KEY), url)
    i = 0
    while (n := conn.recv()) is not None:
        times, oids = [], []
        for _ in range(n):
            time.sleep(pause_s)
            t0 = time.perf_counter()
            res = ex.order("ETH", True, 0.01, float(3400 - i % 50), {"limit": {"tif": "Gtc"}})
            times.append((time.perf_counter() - t0) * 1000)
            assert res["status"] == "ok" and "resting" in res["response"]["data"]["statuses"][0], res
            oids.append(res["response"]["data"]["statuses"][0]["resting"]["oid"])
            i += 1
        ex.bulk_cancel([{"coin": "ETH", "oid": oid} for oid in oids])  # the book stays the same size
        conn.send(times)


async def run(url: str, n: int, db: str, pause_s: float) -> tuple[list[float], list[float], list[float]]:
    config = parse_config({
        "exchanges": {"hyperliquid": {"enabled": True, "testnet": True, "base_url": url, "account_address": ADDRESS,
                                      "secret_key": KEY, "rate_limit": {"requests_per_minute": 10**9}}},
        "web": {"enabled": False},  # no chat page: the path measured is the venue's
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
    parent, child = mp.get_context("spawn").Pipe()
    worker = mp.get_context("spawn").Process(target=sdk_worker, args=(url, pause_s, child), daemon=True)
    worker.start()
    base: list[float] = []
    times: list[float] = []
    full: list[float] = []
    i = 0
    try:
        while len(times) < n:
            parent.send(BLOCK)
            base += await asyncio.to_thread(parent.recv)  # the bot idles meanwhile (its streams still flow)
            for _ in range(BLOCK):
                req = OrderRequest("hyperliquid", "ETH", Side.BUY, Decimal("0.01"), Decimal(3400 - i % 50))
                quote = await app.desk.quote_order(1, 1, req, "buy")
                assert quote.token is not None, quote.preview.refusals
                await asyncio.sleep(pause_s)  # the trader reads the quote
                t0 = time.perf_counter()
                out = await app.desk.confirm(quote.token, 1, "bench")  # what the Confirm button handler runs
                dt = (time.perf_counter() - t0) * 1000
                assert out.status == "placed" and out.order and out.order.status is OrderStatus.OPEN, out
                if i >= WARM_UP:  # connections, caches
                    times.append((accepted_at[-1] - t0) * 1000)
                    full.append(dt)
                i += 1
            await app.risk.orders.cancel_all("hyperliquid")  # untimed: the book stays the same size
    finally:
        parent.send(None)
        worker.join(10)
        await app.stop()
    return base[WARM_UP:WARM_UP + n], times[:n], full[:n]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    pause_s = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    with emulator("--hyperliquid", "0", "--tick", "0", "--weight-per-minute", str(10**9)) as urls, \
            tempfile.TemporaryDirectory() as tmp:
        base, mine, full = asyncio.run(run(urls["hyperliquid"], n, f"{tmp}/bench.db", pause_s))
    print(f"pause before each order: {pause_s * 1000:g} ms; blocks of {BLOCK}, alternating")
    print(HEADER)
    print(row("official SDK Exchange.order", base))
    print(row("tradebot Confirm -> accepted", mine))
    print(row("tradebot Confirm -> result stored", full))
    print(f"ratio p50 {pct(mine, 50) / pct(base, 50):.2f}   ratio p99 {pct(mine, 99) / pct(base, 99):.2f}"
          "   (goal <= 1.00)")


if __name__ == "__main__":
    main()
