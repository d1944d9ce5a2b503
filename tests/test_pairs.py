"""Two-leg execution on two real paper venues through the one OrderManager: both legs filled, and
every fault (a rejected leg, a lost answer then found filled, a partial fill, a crash between the
sends) ends with zero residual, seen on the venues' own positions, and a report that says what was done."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from exchanges.errors import InsufficientBalanceError
from exchanges.models import OrderRequest, Side
from risk.events import TradingState
from risk.order_state import new_client_id
from risk.pairs import LegPlan, PairExecutor, PairPlan, plan_record
from risk.pretrade import OrderRefused
from sim.paper import PaperExchange
from tests.conftest import FakeClock
from tests.harness import Rig, paper, rig

SIZE = D("0.05")


async def two(tmp_path: Path, clock: FakeClock) -> Rig:
    venues = {"hl": paper(clock, "hl", 100_000), "as": paper(clock, "as", 100_000)}
    r = await rig(tmp_path, clock, venues)  # type: ignore[arg-type]
    venues["hl"].set_price("BTC", D(100_000))
    venues["as"].set_price("BTC", D(100_500))
    return r


def plan(buy_px: str = "100100", sell_px: str = "100400", size: D = SIZE) -> PairPlan:
    return PairPlan("BTC", LegPlan("hl", "BTC", Side.BUY, size, D(buy_px)),
                    LegPlan("as", "BTC", Side.SELL, size, D(sell_px)), D("0.001"))


async def held(r: Rig, venue: str) -> D:
    return sum((p.size for p in await r.venues[venue].positions(fresh=True) if p.symbol == "BTC"), D(0))


async def test_both_legs_fill_and_the_pair_is_flat(tmp_path: Path, clock: FakeClock) -> None:
    r = await two(tmp_path, clock)
    try:
        rep = await PairExecutor(r.orders, clock).execute(plan())
        assert await held(r, "hl") == SIZE and await held(r, "as") == -SIZE  # the venues' own word
        assert rep.flat and rep.residual == 0 and rep.residual_venue is None
        buy, sell = rep.leg("buy"), rep.leg("sell")
        assert buy is not None and sell is not None and buy.filled == SIZE and sell.filled == SIZE
        assert buy.status == sell.status == "filled" and len(rep.orders) == 2 and not rep.notes
        assert rep.cash is not None and rep.fees is not None and rep.cash > 0  # ~500 USD/BTC gap minus fees
        assert rep.skew_us is not None
        assert (await r.store.get_pair(rep.pair_id) or ("", {}))[0] == "done"
        stored = await r.store.get_order(buy.client_id)
        assert stored is not None and (await r.store.order_extra(buy.client_id))["pair"] == rep.pair_id
    finally:
        await r.close()


async def test_a_halt_blocks_new_pairs_and_nothing_is_sent(tmp_path: Path, clock: FakeClock) -> None:
    r = await two(tmp_path, clock)
    try:
        await r.risk.state.set(TradingState.HALTED, "test", "test")
        with pytest.raises(OrderRefused, match="no new pairs"):
            await PairExecutor(r.orders, clock).execute(plan())
        assert await held(r, "hl") == 0 and await held(r, "as") == 0
        assert await r.store.pairs_with_status(["sending", "hedging", "done", "residual"]) == []
        with pytest.raises(OrderRefused, match="same size"):
            await PairExecutor(r.orders, clock).execute(PairPlan("BTC", plan().buy, plan(size=D("0.04")).sell,
                                                                 D("0.001")))
    finally:
        await r.close()


def reject_next(ex: PaperExchange, times: int) -> list[int]:
    real = ex.place
    count = [0]

    async def place(req: OrderRequest):  # type: ignore[no-untyped-def]
        if count[0] < times:
            count[0] += 1
            raise InsufficientBalanceError("Margin is insufficient.", venue=ex.name, raw="Margin is insufficient.")
        return await real(req)

    ex.place = place  # type: ignore[method-assign]
    return count


async def test_rejected_leg_is_retried(tmp_path: Path, clock: FakeClock) -> None:
    r = await two(tmp_path, clock)
    try:
        reject_next(r.venues["as"], 1)  # type: ignore[arg-type]
        rep = await PairExecutor(r.orders, clock).execute(plan())
        sell, retry = rep.leg("sell"), rep.leg("retry")
        assert sell is not None and sell.status == "rejected" and sell.filled == 0
        assert sell.reason == "Margin is insufficient."
        assert retry is not None and retry.filled == SIZE
        assert rep.flat and await held(r, "hl") == SIZE and await held(r, "as") == -SIZE
        assert any("Retried the sell leg on as" in n for n in rep.notes)
    finally:
        await r.close()


async def test_rejected_leg_then_excess_closed_reduce_only(tmp_path: Path, clock: FakeClock) -> None:
    r = await two(tmp_path, clock)
    try:
        reject_next(r.venues["as"], 10)  # type: ignore[arg-type]
        rep = await PairExecutor(r.orders, clock).execute(plan())
        close = rep.leg("close")
        assert close is not None and close.filled == SIZE and close.side is Side.SELL and close.venue == "hl"
        assert rep.flat and await held(r, "hl") == 0 and await held(r, "as") == 0
        assert (await r.store.get_order(close.client_id)).reduce_only  # type: ignore[union-attr]
        assert (await r.store.get_pair(rep.pair_id) or ("", {}))[0] == "done"
        assert rep.cash is not None and rep.cash < 0  # the round trip on hl cost fees and the spread
    finally:
        await r.close()


async def test_lost_answer_is_found_filled_by_client_id(tmp_path: Path, clock: FakeClock) -> None:
    r = await two(tmp_path, clock)
    try:
        r.venues["as"].faults.lose_responses = 1  # type: ignore[attr-defined]
        rep = await PairExecutor(r.orders, clock).execute(plan())
        sell = rep.leg("sell")
        assert sell is not None and sell.filled == SIZE and sell.status == "filled"
        assert len(rep.orders) == 2 and rep.flat  # nothing resent, nothing hedged
        assert await held(r, "hl") == SIZE and await held(r, "as") == -SIZE
    finally:
        await r.close()


async def test_partial_fill_is_hedged_to_zero(tmp_path: Path, clock: FakeClock) -> None:
    r = await two(tmp_path, clock)
    try:
        engine = r.venues["as"].engine  # type: ignore[attr-defined]
        engine.set_liquidity("BTC", [(D(100_450), D("0.02")), (D(90_000), D(5))], [(D(100_550), D(5))])
        rep = await PairExecutor(r.orders, clock).execute(plan())
        sell = rep.leg("sell")
        assert sell is not None and sell.filled == D("0.02")
        # the retry within the bound finds nothing more; the excess 0.03 is closed on hl
        close = rep.leg("close")
        assert close is not None and close.filled == D("0.03") and close.venue == "hl"
        assert rep.flat and await held(r, "hl") == D("0.02") and await held(r, "as") == D("-0.02")
    finally:
        await r.close()


async def test_crash_between_the_sends_is_resolved_at_restart(tmp_path: Path, clock: FakeClock) -> None:
    r = await two(tmp_path, clock)
    try:
        p = plan()
        cids = {"buy": new_client_id(), "sell": new_client_id()}
        await r.store.insert_pair("pcrash", "BTC", "sending", plan_record(p, cids), clock())
        # the buy leg went out; the process died before the sell leg was sent
        await r.orders.send(p.buy.request(cids["buy"]), reducing=False)
        assert await held(r, "hl") == SIZE
        after = PairExecutor(r.orders, clock)  # a new process: nothing in memory but the store
        [rep] = await after.recover()
        assert rep.leg("sell") is not None and rep.leg("sell").status == "not sent"  # type: ignore[union-attr]
        assert rep.flat and await held(r, "hl") == 0 and await held(r, "as") == 0
        assert (await r.store.get_pair("pcrash") or ("", {}))[0] == "done"
        assert await after.recover() == []  # resolved once
    finally:
        await r.close()


async def test_unwinding_is_not_blocked_by_a_halt(tmp_path: Path, clock: FakeClock) -> None:
    r = await two(tmp_path, clock)
    try:
        p = plan()
        cids = {"buy": new_client_id(), "sell": new_client_id()}
        await r.store.insert_pair("phalt", "BTC", "sending", plan_record(p, cids), clock())
        await r.orders.send(p.buy.request(cids["buy"]), reducing=False)
        await r.risk.state.set(TradingState.HALTED, "loss limit", "test")
        [rep] = await PairExecutor(r.orders, clock).recover()
        assert rep.flat and await held(r, "hl") == 0
    finally:
        await r.close()


async def test_the_reports_fees_are_the_venues_own_once_their_fills_are_stored(tmp_path: Path,
                                                                              clock: FakeClock) -> None:
    r = await two(tmp_path, clock)
    try:
        executor = PairExecutor(r.orders, clock)
        rep = await executor.execute(plan())
        buy = rep.leg("buy")
        assert buy is not None and not rep.fees_from_fills  # fills not told yet: estimated, and said so
        assert await executor._fees(buy) is None
        await r.drain()  # the venue's fill events reach the store
        venue_fees = sum((f.fee for f in await r.venues["hl"].fills(0) if f.side is Side.BUY), D(0))
        assert venue_fees > 0 and await executor._fees(buy) == venue_fees
    finally:
        await r.close()
