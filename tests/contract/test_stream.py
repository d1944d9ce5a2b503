"""Fills on the stream: each told exactly once, none lost when the stream drops or goes quiet."""

from __future__ import annotations

from decimal import Decimal as D

from exchanges.models import FillEvent, OrderStatus, OrderUpdate, Side, StreamStatus
from tests.contract.conftest import Tape, req


async def test_a_fill_is_told_once_even_across_a_reconnect(venue, tape):
    ex, ctl = venue
    r = req(ex, "BTC", Side.BUY, "0.05")
    order = await ex.place(r)
    await tape.until(lambda e: isinstance(e, FillEvent) and e.fill.order_id == order.order_id)
    await tape.until(lambda e: isinstance(e, OrderUpdate) and e.order.order_id == order.order_id
                     and e.order.status is OrderStatus.FILLED)
    mark = len(tape.seen)
    await ctl.drop_stream()
    if ctl.socket_stream:  # back, with the venue's snapshot of past fills replayed to the adapter
        await tape.until(lambda e: isinstance(e, StreamStatus) and not e.connected, start=mark)
        await tape.until(lambda e: isinstance(e, StreamStatus) and e.connected, start=mark)
        await ex.place(req(ex, "ETH", Side.BUY, "0.1", "3000"))  # one more round trip after the snapshot
        await tape.until(lambda e: isinstance(e, OrderUpdate) and e.order.symbol == "ETH", start=mark)
    fills = tape.fills(order.order_id)
    assert len({f.fill_id for f in fills}) == len(fills)  # never told twice
    assert sum(f.size for f in fills) == D("0.05") and all(f.client_id == r.client_id for f in fills)
    assert fills[-1].price == order.avg_price or len(fills) > 1
    assert not any(f.is_maker for f in fills)
    assert [f.fill_id for f in await ex.fills(0)] == [f.fill_id for f in fills]


async def test_a_resting_order_filled_by_a_price_move_is_told_as_a_maker_fill(venue, tape):
    ex, ctl = venue
    placed = await ex.place(req(ex, "BTC", Side.BUY, "0.01", "99000"))
    await ctl.set_price("BTC", D(98_900))
    ev = await tape.until(lambda e: isinstance(e, FillEvent) and e.fill.order_id == placed.order_id)
    assert ev.fill.is_maker and ev.fill.price == D(99_000) and ev.fill.size == D("0.01")
    [pos] = await ex.positions()
    assert pos.size == D("0.01")


async def test_a_stream_gap_loses_no_fill(gappy):
    ex, ctl = gappy
    tape = Tape(ex)
    try:
        placed = await ex.place(req(ex, "ETH", Side.BUY, "0.1", "3400"))
        await ctl.silence(1.0)
        await ctl.set_price("ETH", D(3390))  # our order fills while we hear nothing
        await tape.until(lambda e: isinstance(e, FillEvent) and e.fill.order_id == placed.order_id, within=10)
        if ctl.socket_stream:  # it noticed the stall and came back (the fill may have come over REST first)
            down = await tape.until(lambda e: isinstance(e, StreamStatus) and not e.connected, within=10)
            await tape.until(lambda e: isinstance(e, StreamStatus) and e.connected, within=10,
                             start=tape.seen.index(down))
        [fill] = tape.fills(placed.order_id)  # told once, whoever found it
        assert (fill.size, fill.price) == (D("0.1"), D(3400))
        assert not any(isinstance(e, OrderUpdate) and e.order.order_id == placed.order_id
                       and e.order.status is OrderStatus.CANCELED for e in tape.seen)
        [pos] = await ex.positions()
        assert pos.size == D("0.1")
    finally:
        await tape.close()


async def test_an_order_cancelled_outside_during_a_gap_is_reported(gappy):
    ex, ctl = gappy
    tape = Tape(ex)
    try:
        placed = await ex.place(req(ex, "ETH", Side.BUY, "0.1", "3000"))
        await ctl.silence(1.0)
        ctl.cancel_outside(placed.order_id)  # e.g. from the venue's web app, unheard of
        await tape.until(lambda e: isinstance(e, OrderUpdate) and e.order.order_id == placed.order_id
                         and e.order.status is OrderStatus.CANCELED, within=10)
        assert await ex.open_orders() == []
    finally:
        await tape.close()
