"""Take profit and stop loss: attached to an entry, and standalone on a position."""

from __future__ import annotations

from decimal import Decimal as D

from exchanges.models import FillEvent, OrderStatus, OrderType, Side
from tests.contract.conftest import req


async def test_tp_sl_attached_to_an_entry_take_profit_fills_and_the_stop_goes(venue, tape):
    ex, ctl = venue
    entry = await ex.place(req(ex, "SOL", Side.BUY, "10", take_profit=D(160), stop_loss=D(140)))
    assert entry.status is OrderStatus.FILLED
    children = [o for o in await ex.open_orders(fresh=True) if o.trigger_price is not None]
    assert sorted((o.order_type, o.trigger_price, o.side, o.size) for o in children) == [
        (OrderType.STOP, D(140), Side.SELL, D(10)), (OrderType.TAKE_PROFIT, D(160), Side.SELL, D(10))]
    await ctl.set_price("SOL", D(161))
    await tape.until(lambda e: isinstance(e, FillEvent) and e.fill.side is Side.SELL)
    assert await ex.positions() == []  # as soon as the stream has told of the fill, reads agree with it
    assert await ex.open_orders() == []  # the stop went with the take profit


async def test_a_standalone_stop_rests_until_the_price_crosses_it(venue, tape):
    ex, ctl = venue
    await ex.place(req(ex, "SOL", Side.BUY, "10"))
    stop = await ex.place(req(ex, "SOL", Side.SELL, "10", order_type=OrderType.STOP, trigger_price=D(140),
                              reduce_only=True))
    assert stop.status is OrderStatus.WAITING_TRIGGER
    [listed] = await ex.open_orders(fresh=True)
    assert (listed.order_id, listed.order_type, listed.trigger_price, listed.size) == (
        stop.order_id, OrderType.STOP, D(140), D(10))
    await ctl.set_price("SOL", D(145))  # above the trigger: nothing happens
    assert len(await ex.positions(fresh=True)) == 1
    await ctl.set_price("SOL", D(139))
    await tape.until(lambda e: isinstance(e, FillEvent) and e.fill.side is Side.SELL)
    assert await ex.positions() == [] and await ex.open_orders() == []
