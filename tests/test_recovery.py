"""Restarts: a bot that dies mid-order comes back consistent; orders placed elsewhere are adopted."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.models import OrderRequest, OrderStatus, Side
from risk.events import OrderAdopted, TradingState
from risk.pretrade import OrderRefused
from sim.paper import PaperExchange
from tests.harness import paper, rig


class Crash(BaseException):
    """Stands for the process dying at this exact point: nothing after it runs."""


class DiesBeforeSending(PaperExchange):
    async def place(self, request):
        raise Crash


class DiesBeforeTheAnswer(PaperExchange):
    async def place(self, request):
        await super().place(request)
        raise Crash


def order(price: str | None = "99000", size: str = "0.01") -> OrderRequest:
    return OrderRequest("paper", "BTC", Side.BUY, D(size), D(price) if price else None)


async def restart(tmp_path, clock, venue: PaperExchange):
    """A fresh bot on the same database file and the same (surviving) venue."""
    venue.__class__ = PaperExchange  # the new process does not die
    return await rig(tmp_path, clock, {"paper": venue}, connect=False)


async def test_killed_between_intent_and_send(tmp_path, clock):
    venue = DiesBeforeSending(clock=clock, tick_interval_s=None)
    first = await rig(tmp_path, clock, {"paper": venue})
    with pytest.raises(Crash):
        await first.orders.place(order())
    [pending] = await first.store.orders_with_status([OrderStatus.PENDING])
    second = await restart(tmp_path, clock, venue)
    try:
        resolved = await second.store.get_order(pending.client_id)
        assert resolved.status is OrderStatus.REJECTED and "never reached the venue" in resolved.reason
        assert await venue.open_orders() == [] and await venue.positions() == []
        assert second.risk.state.effective("paper") is TradingState.ACTIVE
    finally:
        await second.close()
        await first.store.close()  # the dead process's handle, left open until now on purpose


@pytest.mark.parametrize("price", ["99000", None], ids=["resting", "filled"])
async def test_killed_between_send_and_answer(tmp_path, clock, price):
    venue = DiesBeforeTheAnswer(clock=clock, tick_interval_s=None)
    first = await rig(tmp_path, clock, {"paper": venue})
    with pytest.raises(Crash):
        await first.orders.place(order(price))
    [pending] = await first.store.orders_with_status([OrderStatus.PENDING])
    second = await restart(tmp_path, clock, venue)
    try:
        got = await second.store.get_order(pending.client_id)
        on_venue = await venue.order_status("BTC", client_id=pending.client_id)
        assert (got.status, got.order_id, got.filled) == (on_venue.status, on_venue.order_id, on_venue.filled)
        assert got.status is (OrderStatus.OPEN if price else OrderStatus.FILLED)
        assert len(venue.engine.orders) == 1  # nothing was sent twice
        if price is None:
            fills = await second.store.fills_for_order("paper", got.order_id)
            assert sum(f.size for f in fills) == D("0.01") == got.filled
        assert await second.store.orders_with_status([OrderStatus.PENDING, OrderStatus.UNKNOWN]) == []
    finally:
        await second.close()
        await first.store.close()  # the dead process's handle, left open until now on purpose


async def test_orders_placed_elsewhere_are_adopted_not_cancelled(tmp_path, clock):
    venue = paper(clock)
    await venue.connect()
    venue.engine.place("paper", OrderRequest("paper", "ETH", Side.SELL, D(1), D(3600), client_id="web-ui-1"))
    rg = await rig(tmp_path, clock, {"paper": venue}, connect=False, start=False)
    seen = []
    rg.risk.bus.subscribe(seen.append)
    try:
        await rg.risk.start(loops=False)
        [adopted] = await rg.store.orders_with_status([OrderStatus.OPEN])
        assert (adopted.client_id, adopted.symbol, adopted.size) == ("web-ui-1", "ETH", D(1))
        assert await rg.store.order_extra("web-ui-1") == {"adopted": True}
        assert [type(n) for n in seen] == [OrderAdopted]
        assert len(await venue.open_orders()) == 1  # still there: adoption never cancels
    finally:
        await rg.close()


async def test_a_venue_is_reducing_until_it_reconciles(tmp_path, clock):
    venue = paper(clock)
    await venue.connect()
    venue.faults.down = True
    rg = await rig(tmp_path, clock, {"paper": venue}, connect=False, start=False)
    try:
        await rg.risk.start(loops=False)  # reconciliation fails: the venue is down
        assert rg.risk.state.effective("paper") is TradingState.REDUCING
        venue.faults.down = False
        with pytest.raises(OrderRefused) as exc:
            await rg.orders.place(order())
        assert exc.value.refusals[0].code == "REDUCING"
        await rg.risk.sync.reconcile("paper")
        assert rg.risk.state.effective("paper") is TradingState.ACTIVE
        assert (await rg.orders.place(order())).order.status is OrderStatus.OPEN
    finally:
        await rg.close()


async def test_trading_state_survives_a_restart(tmp_path, clock):
    venue = paper(clock)
    first = await rig(tmp_path, clock, {"paper": venue})
    await first.risk.kill.fire("test", "user:1")
    second = await rig(tmp_path, clock, {"paper": venue}, connect=False)
    try:
        assert second.risk.state.state is TradingState.HALTED and second.risk.state.reason == "test"
    finally:
        await second.close()
        await first.store.close()  # the dead process's handle, left open until now on purpose
