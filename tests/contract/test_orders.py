"""Place, look up, cancel and cancel-all, perp and spot; reduce-only never flips a position."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from exchanges.errors import InvalidOrderError, OrderNotFoundError
from exchanges.models import OrderRequest, OrderStatus, Side
from risk.order_state import new_client_id
from tests.contract.conftest import req


async def test_a_resting_order_is_found_by_either_id_and_cancelled_by_client_id(venue):
    ex, _ = venue
    r = req(ex, "ETH", Side.BUY, "0.5", "3000")
    placed = await ex.place(r)
    assert placed.status is OrderStatus.OPEN and placed.client_id == r.client_id and placed.order_id
    [listed] = await ex.open_orders()
    assert (listed.order_id, listed.client_id, listed.symbol, listed.side, listed.price, listed.size) == (
        placed.order_id, r.client_id, "ETH", Side.BUY, D(3000), D("0.5"))
    by_id = await ex.order_status("ETH", order_id=placed.order_id)
    by_client = await ex.order_status("ETH", client_id=r.client_id)
    assert by_id.order_id == by_client.order_id == placed.order_id
    assert by_id.status is by_client.status is OrderStatus.OPEN and by_client.price == D(3000)
    await ex.cancel("ETH", client_id=r.client_id)
    assert await ex.open_orders(fresh=True) == []
    assert (await ex.order_status("ETH", client_id=r.client_id)).status is OrderStatus.CANCELED
    with pytest.raises(OrderNotFoundError):  # gone, by either id
        await ex.cancel("ETH", order_id=placed.order_id)
    with pytest.raises(OrderNotFoundError):
        await ex.cancel("ETH", client_id=r.client_id)


async def test_an_order_the_venue_never_saw_is_not_found(venue):
    ex, _ = venue
    with pytest.raises(OrderNotFoundError):
        await ex.order_status("BTC", client_id=new_client_id())
    with pytest.raises(OrderNotFoundError):
        await ex.cancel("BTC", client_id=new_client_id())


async def test_an_order_without_a_client_id_is_refused(venue):
    ex, _ = venue
    with pytest.raises(InvalidOrderError):
        await ex.place(OrderRequest(ex.name, "BTC", Side.BUY, D("0.01"), D(95_000)))
    assert await ex.open_orders() == []


async def test_cancel_all_of_one_market_then_of_all_perp_and_spot(venue):
    ex, ctl = venue
    for i in range(3):
        await ex.place(req(ex, "SOL", Side.BUY, "1", str(140 - i)))
    spot = await ex.place(req(ex, ctl.facts.spot, Side.BUY, "100", ctl.facts.spot_bid))
    assert spot.status is OrderStatus.OPEN
    cancelled = await ex.cancel_all("SOL")
    assert sorted(o.price for o in cancelled) == [D(138), D(139), D(140)]
    assert all(o.status is OrderStatus.CANCELED for o in cancelled)
    assert [o.order_id for o in await ex.open_orders(fresh=True)] == [spot.order_id]
    assert [o.order_id for o in await ex.cancel_all()] == [spot.order_id]
    assert await ex.open_orders(fresh=True) == []
    assert await ex.cancel_all() == []


async def test_thirty_concurrent_orders_are_all_placed_and_cancelled(venue):
    ex, _ = venue
    results = await asyncio.gather(*(ex.place(req(ex, "ETH", Side.BUY, "0.01", str(3000 - i))) for i in range(30)))
    assert all(o.status is OrderStatus.OPEN for o in results)
    assert len({o.order_id for o in results}) == 30
    cancelled = await ex.cancel_all()
    assert len(cancelled) == 30 and await ex.open_orders() == []


async def test_reduce_only_never_flips_a_position(venue):
    ex, ctl = venue
    await ex.place(req(ex, "BTC", Side.BUY, "0.01"))
    close = await ex.place(req(ex, "BTC", Side.SELL, "0.02", reduce_only=True))  # twice the position
    assert close.filled == D("0.01")
    assert await ex.positions(fresh=True) == []  # flat, not short
    with pytest.raises(InvalidOrderError, match=ctl.facts.words["reduce_only"]):  # nothing left to reduce
        await ex.place(req(ex, "BTC", Side.SELL, "0.01", reduce_only=True))
    assert await ex.positions(fresh=True) == [] and await ex.open_orders(fresh=True) == []
