"""The paper exchange honours the adapter contract on the shared engine."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from exchanges.errors import InsufficientBalanceError, InvalidOrderError, InvalidSymbolError, OrderNotFoundError
from exchanges.models import (
    FillEvent,
    FundingEvent,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Side,
    StreamStatus,
)
from exchanges.paper import PaperExchange


@pytest.fixture
async def paper(clock):
    ex = PaperExchange(starting_balance=D(10_000), clock=clock, tick_interval_s=None)
    await ex.connect()
    yield ex
    await ex.close()


async def drain(ex: PaperExchange) -> list:
    out = []
    while not ex._queue.empty():
        out.append(ex._queue.get_nowait())
    return out


async def test_balances_markets_and_ticker(paper):
    bal = await paper.balances()
    assert (bal.account_value, bal.margin_used, bal.withdrawable) == (D(10_000), 0, D(10_000))
    assert [(b.asset, b.total, b.usd_value) for b in bal.spot] == [("USDC", D(10_000), D(10_000))]
    assert bal.equity == D(20_000)
    markets = await paper.markets()
    assert {"BTC", "ETH", "SOL", "PURR/USDC"} <= set(markets) and markets["BTC"].exchange == "paper"
    t = await paper.ticker("BTC")
    assert t.bid < t.mark < t.ask and t.mark == D(100_000)
    with pytest.raises(InvalidSymbolError):
        await paper.ticker("NOPE")


async def test_market_order_fills_and_streams_events(paper):
    await drain(paper)
    order = await paper.place(OrderRequest("paper", "ETH", Side.BUY, D("5"), client_id="c-1", slippage=D("0.01")))
    assert order.status is OrderStatus.FILLED and order.client_id == "c-1" and order.avg_price > D(3500)
    events = await drain(paper)
    fills = [e.fill for e in events if isinstance(e, FillEvent)]
    updates = [e.order for e in events if isinstance(e, OrderUpdate)]
    assert sum(f.size for f in fills) == D(5) and all(f.client_id == "c-1" for f in fills)
    assert updates[-1].status is OrderStatus.FILLED
    [pos] = await paper.positions()
    assert (pos.symbol, pos.size, pos.leverage) == ("ETH", D(5), 20)
    # 17,500 of ETH on 10,000 of collateral: liquidated somewhere below half the entry price
    assert pos.entry_price == order.avg_price and 0 < pos.liquidation_price < pos.entry_price / 2
    assert await paper.fills(0) == fills
    assert (await paper.order_status("ETH", client_id="c-1")).status is OrderStatus.FILLED


async def test_resting_order_lifecycle_and_lookup_by_client_id(paper):
    o = await paper.place(OrderRequest("paper", "BTC", Side.BUY, D("0.01"), D(95_000), client_id="r-1"))
    assert o.status is OrderStatus.OPEN
    assert [x.client_id for x in await paper.open_orders()] == ["r-1"]
    moved = await paper.modify(o.order_id, "BTC", price=D(96_000), size=None)
    assert moved.price == D(96_000) and moved.client_id == "r-1"
    await paper.cancel("BTC", client_id="r-1")
    assert await paper.open_orders() == []
    with pytest.raises(OrderNotFoundError):
        await paper.cancel("BTC", client_id="r-1")
    with pytest.raises(OrderNotFoundError):
        await paper.order_status("BTC", client_id="never-sent")


async def test_price_moves_fill_resting_orders_on_the_stream(paper):
    await paper.place(OrderRequest("paper", "BTC", Side.BUY, D("0.01"), D(99_000), client_id="x"))
    await drain(paper)
    paper.set_price("BTC", D(98_900))
    events = await drain(paper)
    assert any(isinstance(e, FillEvent) and e.fill.is_maker and e.fill.price == D(99_000) for e in events)


async def test_errors_map_into_the_hierarchy(paper):
    with pytest.raises(InsufficientBalanceError) as exc:
        await paper.place(OrderRequest("paper", "BTC", Side.BUY, D(10), D(99_000), client_id="big"))
    assert exc.value.raw == "Insufficient margin to place order." and exc.value.venue == "paper"
    with pytest.raises(InvalidOrderError):
        await paper.place(OrderRequest("paper", "BTC", Side.BUY, D("0.01"), D(99_000)))  # no client id
    with pytest.raises(InvalidOrderError) as exc:
        await paper.place(OrderRequest("paper", "BTC", Side.BUY, D("0.00001"), D(99_000), client_id="tiny"))
    assert "minimum value of $10" in str(exc.value)
    # a refused order is still known by its client id, as rejected
    assert (await paper.order_status("BTC", client_id="tiny")).status is OrderStatus.REJECTED


async def test_cancel_all_leverage_funding_and_dead_man_switch(paper, clock):
    for i in range(3):
        await paper.place(OrderRequest("paper", "SOL", Side.BUY, D(1), D(140 - i), client_id=f"s{i}"))
    assert len(await paper.cancel_all("SOL")) == 3 and await paper.open_orders() == []
    await paper.set_leverage("SOL", 5)
    with pytest.raises(InvalidOrderError):
        await paper.set_leverage("SOL", 50)
    await paper.place(OrderRequest("paper", "SOL", Side.BUY, D(10), client_id="pos"))
    assert (await paper.positions())[0].leverage == 5
    await drain(paper)
    paper.engine.apply_funding("SOL", D("0.001"))
    [ev] = [e for e in await drain(paper) if isinstance(e, FundingEvent)]
    assert ev.payment.amount == -D(10) * paper.engine.mark("SOL") * D("0.001")
    assert (await paper.funding_payments(0)) == [ev.payment]
    await paper.place(OrderRequest("paper", "SOL", Side.BUY, D(1), D(100), client_id="dms"))
    await paper.arm_dead_man_switch(10)
    clock.advance(10_000)
    paper.tick()
    assert await paper.open_orders() == []


async def test_candles_from_the_price_history(paper, clock):
    for _ in range(120):
        clock.advance(1000)
        paper.tick()
    candles = await paper.candles("BTC", "1m", 0, clock())
    assert 2 <= len(candles) <= 3
    assert all(c.low <= c.open <= c.high and c.low <= c.close <= c.high for c in candles)


async def test_events_iterator_and_stream_status(clock):
    ex = PaperExchange(clock=clock, tick_interval_s=None)
    await ex.connect()
    it = ex.events()
    first = await asyncio.wait_for(it.__anext__(), 1)
    assert isinstance(first, StreamStatus) and first.connected
    await ex.close()
    last = await asyncio.wait_for(it.__anext__(), 1)
    assert isinstance(last, StreamStatus) and not last.connected


async def test_background_ticker_moves_prices():
    ex = PaperExchange(tick_interval_s=0.01)
    await ex.connect()
    before = dict(ex.engine.mids)
    await asyncio.sleep(0.1)
    await ex.close()
    assert ex.engine.mids != before


async def test_paper_follows_hyperliquid_public_prices(clock):
    from exchanges.hyperliquid.public import HyperliquidPrices
    from tests.hl import hl_venue

    async with hl_venue() as (sim, url):
        sim.set_price("ETH", D(4000))
        sim.set_price("PURR/USDC", D("0.25"))
        ex = PaperExchange(clock=clock, tick_interval_s=None, price_feed=HyperliquidPrices(url))
        await ex.connect()
        try:
            await ex.follow_feed()
            assert ex.engine.mark("ETH") == D(4000) and ex.engine.mark("PURR/USDC") == D("0.25")
            sim.set_price("ETH", D(4100))
            await ex.follow_feed()
            assert (await ex.ticker("ETH")).mark == D(4100)
        finally:
            await ex.close()
