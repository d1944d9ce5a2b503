"""The order gateway on the paper exchange: previews, intent-before-send, unknown outcomes, dedupe."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from typing import ClassVar

import pytest

from exchanges.errors import OrderStateUnknown
from exchanges.models import FillEvent, OrderRequest, OrderStatus, Side
from risk.pretrade import OrderRefused
from sim.paper import PaperExchange
from tests.harness import paper, rig


@pytest.fixture
async def r(tmp_path, clock):
    rg = await rig(tmp_path, clock)
    yield rg
    await rg.close()


def buy(symbol: str = "BTC", size: str = "0.01", price: str | None = None, **kw) -> OrderRequest:
    return OrderRequest("paper", symbol, kw.pop("side", Side.BUY), D(size), D(price) if price else None, **kw)


async def test_preview_rounds_and_estimates_everything(r):
    pv = await r.orders.preview(buy(size="0.0123456"))
    assert pv.ok and pv.request.size == D("0.01234")
    book = await r.venues["paper"].order_book("BTC")
    assert pv.est_price == book.asks[0].price  # the first level holds far more than 0.01234
    assert pv.notional == pv.est_price * D("0.01234")
    assert pv.fee == pv.notional * D("0.00045")
    assert pv.margin == pv.notional / 10  # default_leverage 10
    assert (pv.position_before, pv.position_after) == (0, D("0.01234"))
    assert pv.liquidation_price is None  # 1,234 of BTC on 10,000 of margin cannot be liquidated


async def test_preview_refusals_carry_codes_and_sentences(r):
    pv = await r.orders.preview(buy(size="0.00001"))
    assert [x.code for x in pv.refusals] == ["MIN_NOTIONAL", "ORDER_TOO_SMALL"] and "$10" in pv.refusals[0].message
    pv = await r.orders.preview(buy(symbol="NOPE"))
    assert [x.code for x in pv.refusals] == ["UNKNOWN_MARKET"]
    pv = await r.orders.preview(buy(size="0.000001"))
    assert [x.code for x in pv.refusals] == ["PRECISION"] and "rounds to zero" in pv.refusals[0].message
    with pytest.raises(OrderRefused) as exc:
        await r.orders.place(buy(size="0.00001"))
    assert exc.value.refusals[0].code == "MIN_NOTIONAL"
    assert await r.store.orders_with_status(list(OrderStatus)) == []  # nothing written, nothing sent


class SpyPaper(PaperExchange):
    """Reads the database from another connection at the moment the order goes out."""

    db_path = ""
    seen: ClassVar[list[tuple[str, str]]] = []

    async def place(self, request):
        with sqlite3.connect(self.db_path) as db:
            self.seen.extend(db.execute("SELECT client_id, status FROM orders WHERE client_id = ?",
                                        (request.client_id,)).fetchall())
        return await super().place(request)


async def test_the_intent_is_committed_before_the_network_call(tmp_path, clock):
    spy = SpyPaper(clock=clock, tick_interval_s=None)
    spy.db_path = str(tmp_path / "bot.db")
    rg = await rig(tmp_path, clock, {"paper": spy})
    try:
        placed = await rg.orders.place(buy())
        assert spy.seen == [(placed.order.client_id, "pending")]
        assert (await rg.store.get_order(placed.order.client_id)).status is OrderStatus.FILLED
    finally:
        await rg.close()


async def test_fills_from_the_stream_are_applied_once(r):
    placed = await r.orders.place(buy(price="100500"))  # crosses: fills at once
    fill_events = [e for e in list(r.venues["paper"]._queue._queue) if isinstance(e, FillEvent)]
    await r.drain()
    for ev in fill_events:  # the venue delivers every fill a second time
        await r.risk.sync.handle(ev)
    stored = await r.store.get_order(placed.order.client_id)
    fills = await r.store.fills_for_order("paper", placed.order.order_id)
    assert stored.status is OrderStatus.FILLED and stored.filled == D("0.01")
    assert sum(f.size for f in fills) == D("0.01") and len(fills) == len(fill_events)


async def test_a_resting_order_fills_later_through_the_stream(r):
    placed = await r.orders.place(buy(price="99500"))
    assert placed.order.status is OrderStatus.OPEN
    r.venues["paper"].set_price("BTC", D(99_000))
    await r.drain()
    stored = await r.store.get_order(placed.order.client_id)
    assert (stored.status, stored.filled, stored.avg_price) == (OrderStatus.FILLED, D("0.01"), D(99_500))


async def test_thousand_orders_with_lost_responses_make_no_duplicates(tmp_path, clock):
    venue = paper(clock, balance=10_000_000)
    rg = await rig(tmp_path, clock, {"paper": venue})
    try:
        lost = 0
        for i in range(1000):
            if i % 3 == 0:  # accepted by the venue, answer lost on the way back
                venue.faults.lose_responses = 1
                lost += 1
            side = Side.BUY if i % 2 else Side.SELL
            price = D(99_000 - i) if side is Side.BUY else D(101_000 + i)
            placed = await rg.orders.place(buy(size="0.001", price=str(price), side=side))
            assert placed.order.status is OrderStatus.OPEN, placed.order
        await rg.drain()
        venue_orders = await venue.open_orders()
        stored = await rg.store.orders_with_status(list(OrderStatus))
        assert lost == 334
        assert len(venue_orders) == 1000 == len(stored)
        assert len({o.client_id for o in venue_orders}) == 1000  # no order was sent twice
        assert {(o.client_id, o.order_id, o.status) for o in stored} == {
            (o.client_id, o.order_id, OrderStatus.OPEN) for o in venue_orders}
    finally:
        await rg.close()


async def test_refused_before_sending_is_rejected_and_never_retried(r):
    venue = r.venues["paper"]
    venue.faults.fail_before_send = 1
    placed = await r.orders.place(buy(price="99000"))
    assert placed.order.status is OrderStatus.REJECTED and "connection refused" in placed.order.reason
    assert await venue.open_orders() == []


async def test_unknown_outcome_of_an_order_that_never_arrived(r):
    """Lost on the way out: not found by client id after the grace period -> rejected, not resent."""
    venue = r.venues["paper"]

    async def lost_in_transit(request):
        raise OrderStateUnknown("connection reset while sending", venue="paper")

    venue.place = lost_in_transit  # type: ignore[method-assign]
    placed = await r.orders.place(buy(price="99000"))
    assert placed.order.status is OrderStatus.REJECTED and "never reached the venue" in placed.order.reason
    assert await venue.open_orders() == []


async def test_leverage_is_set_on_the_venue_before_the_first_order(r):
    await r.orders.place(buy(size="0.15", leverage=15))
    [pos] = await r.venues["paper"].positions()
    assert pos.leverage == 15
    with pytest.raises(OrderRefused):
        await r.orders.set_leverage("paper", "BTC", 21)  # max_leverage 20


async def test_cancel_and_close_are_recorded(r):
    placed = await r.orders.place(buy(price="99000"))
    await r.orders.cancel("paper", "BTC", client_id=placed.order.client_id)
    assert (await r.store.get_order(placed.order.client_id)).status is OrderStatus.CANCELED
    await r.orders.place(buy(size="0.02"))
    [pos] = await r.venues["paper"].positions()
    close = await r.orders.place(r.orders.close_request(pos, D("0.5")))
    assert close.preview.reducing and close.order.filled == D("0.01")
    assert (await r.venues["paper"].positions())[0].size == D("0.01")


async def test_a_failed_leverage_change_rejects_the_order_it_preceded(r):
    venue = r.venues["paper"]

    async def timeout(symbol, leverage, *, cross=True):
        raise OrderStateUnknown("no answer from the venue (TimeoutError)", venue="paper")

    venue.set_leverage = timeout  # type: ignore[method-assign]
    placed = await r.orders.place(buy(price="99000", leverage=5))
    assert placed.order.status is OrderStatus.REJECTED and placed.order.reason.startswith("could not set leverage")
    assert await r.store.orders_with_status([OrderStatus.PENDING]) == []
    assert await venue.open_orders() == []
