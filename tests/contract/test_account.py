"""Balances and positions, perp and spot, as the venue holds them."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.errors import InsufficientBalanceError, InvalidOrderError
from exchanges.models import OrderStatus, Side
from tests.contract.conftest import req


async def test_balances_of_a_fresh_account(venue):
    ex, ctl = venue
    bal = await ex.balances()
    assert (bal.account_value, bal.margin_used, bal.withdrawable) == (ctl.usdc, 0, ctl.usdc)
    assert [(b.asset, b.total, b.usd_value) for b in bal.spot] == [(ctl.facts.quote, ctl.usdc, ctl.usdc)]
    assert bal.equity == 2 * ctl.usdc
    assert await ex.positions() == []


async def test_a_market_order_opens_a_position_and_a_reduce_only_closes_it(venue):
    ex, _ = venue
    await ex.set_leverage("BTC", 10)
    r = req(ex, "BTC", Side.BUY, "0.05")
    order = await ex.place(r)
    assert order.status is OrderStatus.FILLED and order.client_id == r.client_id
    assert order.filled == D("0.05") and order.avg_price > D(100_000)  # bought from the ask
    [pos] = await ex.positions()
    assert (pos.symbol, pos.size, pos.leverage, pos.leverage_type) == ("BTC", D("0.05"), 10, "cross")
    assert pos.entry_price == order.avg_price
    close = await ex.place(req(ex, "BTC", Side.SELL, "0.05", reduce_only=True))
    assert close.status is OrderStatus.FILLED and await ex.positions() == []
    fills = await ex.fills(0)
    assert [f.order_id for f in fills] == [order.order_id, close.order_id]
    assert fills[1].realized_pnl == (fills[1].price - fills[0].price) * D("0.05")
    assert (await ex.order_status("BTC", client_id=r.client_id)).status is OrderStatus.FILLED


async def test_leverage_out_of_range_and_a_type_switch_under_a_position_are_refused(venue):
    ex, ctl = venue
    with pytest.raises(InvalidOrderError):
        await ex.set_leverage("SOL", 500)
    await ex.set_leverage("SOL", 10, cross=False)
    await ex.place(req(ex, "SOL", Side.BUY, "10"))
    [pos] = await ex.positions()
    assert (pos.leverage, pos.leverage_type) == (10, "isolated")
    with pytest.raises(InvalidOrderError, match=ctl.facts.words["switch"]):
        await ex.set_leverage("SOL", 10, cross=True)


async def test_spot_buy_and_sell_move_the_spot_balances(venue):
    ex, ctl = venue
    f = ctl.facts
    size, base = D(f.spot_size), f.spot.split("/")[0]
    bought = await ex.place(req(ex, f.spot, Side.BUY, f.spot_size, slippage=D("0.02")))
    assert bought.status is OrderStatus.FILLED and bought.filled == size
    bal = await ex.balances(fresh=True)
    held = next(b for b in bal.spot if b.asset == base)
    assert ctl.mark(f.spot) == f.spot_price
    assert held.total == size and held.usd_value == size * ctl.mark(f.spot)
    fee = sum((x.fee for x in await ex.fills(0) if x.order_id == bought.order_id), D(0))
    cash = next(b for b in bal.spot if b.asset == f.quote)
    assert fee > 0 and cash.total == ctl.usdc - size * bought.avg_price - fee  # paid, with the fee
    sold = await ex.place(req(ex, f.spot, Side.SELL, f.spot_size, slippage=D("0.02")))
    assert sold.status is OrderStatus.FILLED
    bal = await ex.balances(fresh=True)
    assert [b.asset for b in bal.spot] == [f.quote]
    assert await ex.positions() == []  # spot holds no perp position


async def test_an_order_beyond_the_margin_is_refused(venue):
    ex, ctl = venue
    with pytest.raises(InsufficientBalanceError) as exc:
        await ex.place(req(ex, "BTC", Side.BUY, "100", "95000"))
    assert exc.value.venue == ex.name and ctl.facts.words["margin"] in (exc.value.raw or "")
    assert await ex.open_orders() == []
