"""The desk's confirmations: single use held by the database, one trip to it on the order path."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from desk.desk import Desk
from exchanges.errors import VenueUnavailable
from exchanges.models import OrderRequest, OrderStatus, Side
from tests.conftest import FakeClock
from tests.harness import rig


def buy(size: str = "0.1") -> OrderRequest:
    return OrderRequest("paper", "ETH", Side.BUY, D(size), None)


@pytest.fixture
async def r(tmp_path):
    made = await rig(tmp_path, FakeClock())
    try:
        yield made
    finally:
        await made.close()


async def test_a_token_is_used_in_the_same_transaction_as_the_intent(r):
    desk = Desk(r.risk, r.store, r.settings, r.clock)
    quote = await desk.quote_order(1, 1, buy(), "buy")
    assert quote.token is not None
    out = await desk.confirm(quote.token, 1, "test")
    assert out.status == "placed"
    row = await r.store._one("SELECT consumed_ms FROM confirmations WHERE token = ?", (quote.token,))
    assert row[0] is not None
    assert (await r.store.get_order(out.order.client_id)) is not None
    assert (await desk.confirm(quote.token, 1, "test")).status == "used"
    assert len(r.venues["paper"].engine.orders) == 1


async def test_a_token_pressed_after_a_restart_works_once(r):
    token = (await Desk(r.risk, r.store, r.settings, r.clock).quote_order(1, 1, buy(), "buy")).token
    after_restart = Desk(r.risk, r.store, r.settings, r.clock)  # nothing in memory: the database decides
    assert (await after_restart.confirm(token, 2, "test")).status == "not_yours"
    assert (await after_restart.confirm(token, 1, "test")).status == "placed"
    assert (await Desk(r.risk, r.store, r.settings, r.clock).confirm(token, 1, "test")).status == "used"
    assert len(r.venues["paper"].engine.orders) == 1


async def test_a_token_used_elsewhere_sends_nothing(r):
    # two bot processes on one database (a mistake, but possible): the database's use is what counts
    desk = Desk(r.risk, r.store, r.settings, r.clock)
    token = (await desk.quote_order(1, 1, buy(), "buy")).token
    status, _ = await r.store.consume_confirmation(token, 1, r.clock())
    assert status == "ok"
    assert (await desk.confirm(token, 1, "test")).status == "used"
    assert r.venues["paper"].engine.orders == {}
    assert await r.store.orders_with_status(list(OrderStatus)) == []  # no intent written either


async def test_a_press_that_failed_before_sending_can_be_pressed_again(r):
    desk = Desk(r.risk, r.store, r.settings, r.clock)
    token = (await desk.quote_order(1, 1, buy(), "buy")).token
    r.venues["paper"].faults.down = True
    with pytest.raises(VenueUnavailable):  # the re-check cannot read the venue: nothing is sent
        await desk.confirm(token, 1, "test")
    r.venues["paper"].faults.down = False
    assert (await desk.confirm(token, 1, "test")).status == "placed"
    assert len(r.venues["paper"].engine.orders) == 1


async def test_a_refused_or_discarded_token_is_used_up(r):
    desk = Desk(r.risk, r.store, r.settings, r.clock)
    token = (await desk.quote_order(1, 1, buy(), "buy")).token
    assert (await desk.discard(token, 1)).status == "cancelled"
    assert (await Desk(r.risk, r.store, r.settings, r.clock).confirm(token, 1, "test")).status == "used"
    assert r.venues["paper"].engine.orders == {}
