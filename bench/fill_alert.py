"""Fill -> alert latency: from the moment a resting order fills on the venue (paper exchange) to the
moment the Telegram emulator receives the alert. Fills are spaced past the 1 msg/s per-chat pacing.

    python -m bench.fill_alert [N]      (default 60 fills)

Goal: p99 under 100 ms on loopback (and every alert within 1 s).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any

from bench.common import HEADER, pct, row
from bot.app import App
from bot.config import parse_config
from exchanges.models import OrderRequest, Side
from sim.serve import start_site
from sim.telegram import TelegramSim


async def run(n: int, tmp: str) -> list[float]:
    sim = TelegramSim()
    arrived: dict[str, float] = {}
    real_send = sim.m_sendMessage

    async def send(params: dict[str, Any]) -> Any:
        text = str(params.get("text", ""))
        if "Filled" in text:
            arrived.setdefault(text.split("\n")[0], time.perf_counter())
            arrived["last"] = time.perf_counter()
        return await real_send(params)

    sim.m_sendMessage = send  # type: ignore[method-assign]
    runner, base = await start_site(sim.app())
    config = parse_config({
        "telegram": {"bot_token": "1:BENCH", "base_url": f"{base}/bot", "allowed_user_ids": [111]},
        "exchanges": {"paper": {"enabled": True, "tick_interval_seconds": 0, "starting_balance": 10_000_000}},
        "storage": {"path": f"{tmp}/bench.db"},
        "trading": {"max_order_size": 10**9, "position_limits": {"max_position_size_usd": 10**9}},
        "risk": {"max_orders_per_minute": 10**6, "position_size_limit": 1},
    }, env={})[0]
    app = App(config)
    await app.start()
    assert app.telegram is not None
    await asyncio.wait_for(app.telegram.running.wait(), 10)
    paper = app.exchanges["paper"]
    await asyncio.sleep(1.05)  # the "started" report takes this second of the chat's pacing; fills come after
    times = []
    try:
        for _ in range(n):
            mark = paper.engine.mark("ETH")
            price = paper.engine.markets["ETH"].round_price(mark * Decimal("0.999"))
            await app.risk.orders.place(OrderRequest("paper", "ETH", Side.BUY, Decimal("0.01"), price))
            arrived.pop("last", None)
            t0 = time.perf_counter()
            paper.set_price("ETH", price * Decimal("0.998"))  # the market trades through it: filled now
            for _ in range(2000):
                if "last" in arrived:
                    break
                await asyncio.sleep(0.0005)
            times.append((arrived["last"] - t0) * 1000)
            paper.set_price("ETH", mark)
            await asyncio.sleep(1.05)  # past the per-chat pacing, so each fill is measured alone
    finally:
        await app.stop()
        await runner.cleanup()
    return times


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    with tempfile.TemporaryDirectory() as tmp:
        times = asyncio.run(run(n, tmp))
    print(HEADER)
    print(row("fill on venue -> alert at Telegram", times))
    print(f"p99 {pct(times, 99):.1f} ms (goal < 100 ms); max {max(times):.1f} ms (every alert < 1000 ms)")


if __name__ == "__main__":
    main()
