"""Kill switch over two venues: 50 resting orders and 5 positions on emulated Hyperliquid and as many
on emulated Aster, 25 ms one-way latency on every request to either: time from firing until both are
cancelled and flat, read back from each venue.

    python -m bench.kill_both [ROUNDS]     (default 5)

Goal: <= 250 ms (the venues are swept in parallel, so two cost about what the slower one does). The
baseline beside it, in alternation: one sequential request per order and per position on both.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from decimal import Decimal

from bench.aster_order_path import SIGNER, SIGNER_KEY, USER, _unlimited
from bench.common import ADDRESS, HEADER, KEY, emulator, row
from bench.kill_switch import control
from bot.app import App
from bot.config import parse_config
from exchanges.models import OrderRequest, Side

SIZES = {"hyperliquid": {"BTC": "0.01", "ETH": "0.3", "SOL": "5", "DOGE": "3000", "HYPE": "20"},
         "aster": {"BTC": "0.01", "ETH": "0.3", "SOL": "5", "DOGE": "3000", "ASTER": "500"}}


async def load(app: App) -> None:
    orders = app.risk.orders
    for venue, sizes in SIZES.items():
        for i in range(50):
            await orders.place(OrderRequest(venue, "ETH", Side.BUY, Decimal("0.01"), Decimal(3000 - i)))
        for sym, size in sizes.items():
            await orders.place(OrderRequest(venue, sym, Side.BUY, Decimal(size)))


async def run(urls: dict[str, str], rounds: int, db: str) -> tuple[list[float], list[float]]:
    hl, aster = urls["hyperliquid"], urls["aster"]
    await control(aster, "signer", {"user": USER, "signer": SIGNER})
    ws = aster.replace("http://", "ws://")
    config = parse_config({
        "exchanges": {
            "hyperliquid": {"enabled": True, "testnet": True, "base_url": hl, "account_address": ADDRESS,
                            "secret_key": KEY, "rate_limit": {"requests_per_minute": 10**9}},
            "aster": {"enabled": True, "user": USER, "signer": SIGNER, "signer_key": SIGNER_KEY, "base_url": aster,
                      "spot_base_url": aster, "ws_url": f"{ws}/fstream", "spot_ws_url": f"{ws}/sstream"}},
        "web": {"enabled": False},
        "storage": {"path": db}, "kill": {"flatten": "always"},
        "trading": {"max_order_size": 10**9, "max_leverage": 20, "position_limits": {
            "max_position_size_usd": 10**9, "max_total_positions": 20, "max_positions_per_symbol": 2}},
        "risk": {"max_orders_per_minute": 10**6, "position_size_limit": 1, "max_data_age_seconds": 60},
    }, env={})[0]
    app = App(config)
    await app.start()
    _unlimited(app.exchanges["aster"])
    ours, naive = [], []
    try:
        for _ in range(rounds):
            for measure in ("ours", "naive"):
                await app.risk.kill.resume("bench")
                await load(app)
                for ex in app.exchanges.values():
                    assert len(await ex.open_orders(fresh=True)) == 50 and len(await ex.positions(fresh=True)) == 5
                for url in (hl, aster):
                    await control(url, "fault", {"kind": "latency", "ms": 25, "duration_s": 600})
                t0 = time.perf_counter()
                if measure == "ours":
                    report = await app.risk.kill.fire("bench", "bench", flatten=True)
                    assert report.ok, report
                else:
                    for ex in app.exchanges.values():
                        for o in await ex.open_orders(fresh=True):
                            await ex.cancel(o.symbol, order_id=o.order_id)
                        for p in await ex.positions(fresh=True):
                            await app.risk.orders.send(app.risk.orders.close_request(p), reducing=True)
                dt = (time.perf_counter() - t0) * 1000
                for url in (hl, aster):
                    await control(url, "clear", {})
                for ex in app.exchanges.values():  # each venue's own word, over REST
                    assert await ex.open_orders(fresh=True) == [] and await ex.positions(fresh=True) == []
                (ours if measure == "ours" else naive).append(dt)
    finally:
        await app.stop()
    return ours, naive


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with emulator("--hyperliquid", "0", "--aster", "0", "--tick", "0", "--weight-per-minute", str(10**9),
                  "--aster-weight-per-minute", str(10**9)) as urls, tempfile.TemporaryDirectory() as tmp:
        ours, naive = asyncio.run(run(urls, rounds, f"{tmp}/bench.db"))
    print("Hyperliquid and Aster, 50 resting orders + 5 positions each, 25 ms one-way latency")
    print(HEADER)
    print(row("naive: one request per item", naive))
    print(row("tradebot kill switch, both", ours))
    print(f"kill switch p50 {sorted(ours)[len(ours) // 2]:.0f} ms  (goal <= 250 ms)")


if __name__ == "__main__":
    main()
