"""Cross-venue spreads: price change on a venue -> spread alert at the Telegram emulator, and the skew
between the two legs' sends of a pair.

    python -m bench.spread [N_ALERTS] [N_PAIRS]      (default 15 alerts, 300 pairs)

Alerts: emulated Hyperliquid + Aster (in-process servers, real adapters over loopback HTTP/WS), the
watcher polling every 20 ms with min_duration_ms 0; one alert per 1.1 s (the notifier's 1 msg/s
per-chat pacing). Leg skew: two paper venues, the real OrderManager and store; the time between the
two venues' place() calls (the moment each leg leaves the bot), and the executor's own measure (just
before each leg goes to its venue, both intents committed in one transaction before). Goal: leg skew
p99 under 1 ms; alerts well within 1 s.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import HEADER, pct, row
from bot.settings import risk_settings
from exchanges.models import OrderRequest, Side
from risk.pairs import LegPlan, PairExecutor, PairPlan
from risk.service import Risk
from sim.engine import Engine
from sim.markets import default_markets, starting_prices
from sim.paper import PaperExchange
from store.db import Store
from tests.harness import make_config
from tests.hl import control as hl_control
from tests.tg import Rig


async def alerts(n: int, tmp: Path) -> list[float]:
    arb = {"enabled": True, "min_net_bps": 10, "min_duration_ms": 0, "cooldown_s": 0, "poll_ms": 20}
    rig = Rig(tmp, venue="both", arbitrage=arb, alerts={"reports": "on"}, trading={
        "default_exchange": "hyperliquid", "max_order_size": 100_000})
    arrived: list[float] = []
    real = rig.sim.m_sendMessage

    async def send(params: dict[str, Any]) -> Any:
        if "spread</b>" in str(params.get("text", "")):
            arrived.append(time.perf_counter())
        return await real(params)

    rig.sim.m_sendMessage = send  # type: ignore[method-assign]
    out: list[float] = []
    async with rig:
        await asyncio.sleep(1.1)
        for _ in range(n):
            await hl_control(rig.hl_url or "", "price", {"coin": "BTC", "px": "100000"})
            await rig.aster_price("BTC", "100000")
            await asyncio.sleep(1.1)  # below the threshold (the debounce resets) and past the chat's pacing
            before = len(arrived)
            t0 = time.perf_counter()
            await rig.aster_price("BTC", "100500")
            for _ in range(4000):
                if len(arrived) > before:
                    break
                await asyncio.sleep(0.0005)
            if len(arrived) > before:
                out.append((arrived[before] - t0) * 1000)
    return out


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def skew(n: int, tmp: Path) -> tuple[list[float], list[float]]:
    venues = {name: PaperExchange(starting_balance=Decimal(10_000_000), clock=now_ms, tick_interval_s=None, name=name,
                                  engine=Engine(default_markets(name), starting_prices(), clock=now_ms))
              for name in ("hl", "as")}
    sent: dict[str, int] = {}
    for name, ex in venues.items():
        real = ex.place

        async def place(req: OrderRequest, _real: Any = real, _name: str = name) -> Any:
            sent[_name] = time.perf_counter_ns()
            return await _real(req)

        ex.place = place  # type: ignore[method-assign]
        await ex.connect()
        ex.set_price("BTC", Decimal(100_000))
    store = Store(str(tmp / "skew.db"))
    await store.open()
    config = make_config(trading={"max_order_size": 10**9, "position_limits": {"max_position_size_usd": 10**9,
                                                                               "max_positions_per_symbol": 2,
                                                                               "max_total_positions": 10}},
                         risk={"max_orders_per_minute": 10**6, "position_size_limit": 1})
    risk = Risk.build(dict(venues), store, risk_settings(config), now_ms)
    await risk.start(loops=False)
    ex_ = PairExecutor(risk.orders, now_ms)
    at_venue: list[float] = []
    at_commit: list[float] = []
    size = Decimal("0.01")
    try:
        for i in range(n):
            a, b = ("hl", "as") if i % 2 == 0 else ("as", "hl")  # alternate: positions go back to flat
            plan = PairPlan("BTC", LegPlan(a, "BTC", Side.BUY, size, Decimal(100_200)),
                            LegPlan(b, "BTC", Side.SELL, size, Decimal(99_800)), Decimal("0.002"))
            sent.clear()
            rep = await ex_.execute(plan)
            assert rep.flat, rep
            at_venue.append(abs(sent["hl"] - sent["as"]) / 1e6)
            if rep.skew_us is not None:
                at_commit.append(rep.skew_us / 1000)
    finally:
        await risk.stop()
        for ex in venues.values():
            await ex.close()
        await store.close()
    return at_venue, at_commit


def main() -> None:
    n_alerts = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    n_pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    with tempfile.TemporaryDirectory() as tmp:
        at_venue, at_commit = asyncio.run(skew(n_pairs, Path(tmp))) if n_pairs else ([], [])
        latencies = asyncio.run(alerts(n_alerts, Path(tmp))) if n_alerts else []
    print(HEADER)
    if latencies:
        print(row("price move -> spread alert at chat", latencies))
    if at_venue:
        print(row("leg skew at the venues' place()", at_venue))
        print(row("leg skew, the executor's measure", at_commit))
    if latencies:
        print(f"alerts: {len(latencies)}/{n_alerts} arrived; p99 {pct(latencies, 99):.1f} ms (goal < 1000 ms)")
    if at_venue:
        print(f"leg skew p99 {pct(at_venue, 99):.3f} ms (goal < 1 ms)")


if __name__ == "__main__":
    main()
