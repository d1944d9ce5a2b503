"""SIGKILL between the two legs' sends: a real child process dies after the first leg reached its
(paper, state-persisting) venue and before the second was sent; the next process resolves the pair
from its stored record, closing the naked leg reduce-only. Run as a module, this file is the child."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

from bot.settings import risk_settings
from exchanges.models import OrderRequest, Side
from risk.pairs import LegPlan, PairExecutor, PairPlan
from risk.service import Risk
from sim.engine import Engine
from sim.markets import default_markets, starting_prices
from sim.paper import PaperExchange
from store.db import Store
from tests.harness import make_config

ROOT = Path(__file__).resolve().parent.parent
SIZE = D("0.05")
PLAN = PairPlan("BTC", LegPlan("hl", "BTC", Side.BUY, SIZE, D(100_100)),
                LegPlan("as", "BTC", Side.SELL, SIZE, D(100_400)), D("0.001"))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def open_all(d: Path) -> tuple[dict[str, PaperExchange], Store, Risk]:
    venues = {n: PaperExchange(starting_balance=D(100_000), clock=now_ms, tick_interval_s=None, name=n,
                               engine=Engine(default_markets(n), starting_prices(), clock=now_ms),
                               state_path=str(d / f"{n}.json")) for n in ("hl", "as")}
    for ex in venues.values():
        await ex.connect()
    venues["hl"].set_price("BTC", D(100_000))
    venues["as"].set_price("BTC", D(100_500))
    store = Store(str(d / "bot.db"))
    await store.open()
    risk = Risk.build(dict(venues), store, risk_settings(make_config()), now_ms, lookup_grace_s=0, lookup_attempts=2)
    await risk.start(loops=False)
    return venues, store, risk


async def child(d: Path) -> None:
    venues, _, risk = await open_all(d)

    async def die(req: OrderRequest) -> None:  # the second leg's send: the process is killed right here
        os.kill(os.getpid(), signal.SIGKILL)

    venues["as"].place = die  # type: ignore[assignment,method-assign]
    await PairExecutor(risk.orders, now_ms).execute(PLAN)


async def btc(ex: PaperExchange) -> D:
    return sum((p.size for p in await ex.positions(fresh=True) if p.symbol == "BTC"), D(0))


async def test_sigkill_between_the_sends_is_resolved_at_restart(tmp_path: Path) -> None:
    proc = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "tests.test_pairs_crash", str(tmp_path)],
                                   cwd=ROOT, capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    venues, store, risk = await open_all(tmp_path)
    try:
        assert await btc(venues["hl"]) == SIZE and await btc(venues["as"]) == 0  # a naked leg, as the venues say
        [(pair_id, status, _)] = await store.pairs_with_status(["sending", "hedging"])
        assert status == "sending"
        [rep] = await PairExecutor(risk.orders, now_ms).recover()
        assert rep.pair_id == pair_id and rep.flat
        buy, sell, close = rep.leg("buy"), rep.leg("sell"), rep.leg("close")
        assert buy is not None and buy.filled == SIZE
        assert sell is not None and sell.filled == 0 and sell.status == "not sent"
        assert close is not None and close.filled == SIZE and close.venue == "hl"
        assert await btc(venues["hl"]) == 0 and await btc(venues["as"]) == 0
        assert (await store.get_pair(pair_id) or ("", {}))[0] == "done"
    finally:
        await risk.stop()
        for ex in venues.values():
            await ex.close()
        await store.close()


if __name__ == "__main__":
    asyncio.run(child(Path(sys.argv[1])))
