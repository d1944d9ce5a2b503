"""A venue that is down, an answer lost after the venue accepted, and the dead man's switch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal as D
from typing import Any

import pytest

from exchanges.errors import OrderNotFoundError, OrderStateUnknown, VenueUnavailable
from exchanges.models import OrderStatus, OrderUpdate, Side
from tests.contract.conftest import req


async def back(call: Callable[..., Awaitable[Any]], within: float = 10.0, **kw: Any) -> Any:
    """The venue's answer once it is back (a circuit breaker may hold calls for its cool-down)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call(**kw)
        except VenueUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_a_venue_that_is_down_is_unavailable_and_nothing_is_placed(venue):
    ex, ctl = venue
    await ctl.down()
    try:
        with pytest.raises(VenueUnavailable):
            await ex.balances(fresh=True)
        with pytest.raises(VenueUnavailable):
            await ex.open_orders(fresh=True)
        r = req(ex, "BTC", Side.BUY, "0.01", "95000")
        with pytest.raises((VenueUnavailable, OrderStateUnknown)):  # not reached, or no word of it
            await ex.place(r)
    finally:
        await ctl.up()
    assert (await back(ex.balances, fresh=True)).account_value == ctl.usdc
    with pytest.raises(OrderNotFoundError):  # and the client id tells the truth: never placed
        await ex.order_status("BTC", client_id=r.client_id)
    assert await ex.open_orders(fresh=True) == []


async def test_an_order_whose_answer_is_lost_is_found_by_its_client_id(venue):
    ex, ctl = venue
    await ctl.lose_next_order_answer()
    r = req(ex, "ETH", Side.BUY, "0.5", "3000")
    with pytest.raises(OrderStateUnknown):
        await ex.place(r)
    found = await ex.order_status("ETH", client_id=r.client_id)
    assert (found.status, found.size, found.price, found.client_id) == (OrderStatus.OPEN, D("0.5"), D(3000),
                                                                        r.client_id)
    assert [o.order_id for o in await ex.open_orders(fresh=True)] == [found.order_id]  # once


async def test_the_dead_man_switch_cancels_when_due_and_not_once_disarmed(venue, tape):
    ex, ctl = venue
    kept = await ex.place(req(ex, "BTC", Side.BUY, "0.01", "90000"))
    await ex.arm_dead_man_switch(10)
    await ctl.advance(5_000)
    assert [o.order_id for o in await ex.open_orders(fresh=True)] == [kept.order_id]  # not yet
    await ex.disarm_dead_man_switch()
    await ctl.advance(10_000)
    assert [o.order_id for o in await ex.open_orders(fresh=True)] == [kept.order_id]  # disarmed
    await ex.arm_dead_man_switch(10)
    await ctl.advance(11_000)
    await tape.until(lambda e: isinstance(e, OrderUpdate) and e.order.order_id == kept.order_id
                     and e.order.status is OrderStatus.CANCELED)
    assert await ex.open_orders() == []
    assert (await ex.order_status("BTC", order_id=kept.order_id)).status is OrderStatus.CANCELED
