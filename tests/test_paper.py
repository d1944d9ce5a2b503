"""The paper exchange honours the adapter contract on the shared engine."""

from __future__ import annotations

import asyncio
import random
import tracemalloc
from decimal import Decimal as D

import pytest

from exchanges.errors import InsufficientBalanceError, InvalidOrderError
from exchanges.models import (
    CANDLE_INTERVAL_MS,
    FillEvent,
    FundingEvent,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Side,
    StreamStatus,
)
from sim.history import KEEP_BARS, Bar, PriceHistory
from sim.hyperliquid.info import INTERVALS
from sim.markets import PriceWalk, default_markets, starting_prices
from sim.paper import PaperExchange


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


def point_candles(points, trades, step, start, end):
    """The candles of every recorded point (how the history used to answer): the reference."""
    acc: dict[int, list] = {}
    for ts, px in points:
        if start <= ts <= end:
            c = acc.setdefault(ts - ts % step, [px, px, px, px])
            c[1], c[2], c[3] = max(c[1], px), min(c[2], px), px
    vol: dict[int, list] = {}
    for ts, sz in trades:
        if start <= ts <= end:
            vol.setdefault(ts - ts % step, []).append(sz)
    return [Bar(t, t + step - 1, o, h, lo, c, sum(vol.get(t, []), D(0)), len(vol.get(t, [])))
            for t, (o, h, lo, c) in sorted(acc.items())]


def test_candles_are_the_same_as_from_every_point_for_every_interval():
    """Three weeks of prices (sparse, then a dense day of 1 s ticks) and trades: every interval the
    bot, the chart and the Hyperliquid emulator ask for gives the bars the raw points give."""
    rng = random.Random(7)
    markets = {m.symbol: m for m in default_markets("paper")}
    walk, mids = PriceWalk(3), dict(starting_prices())
    history = PriceHistory(markets)
    points: dict[str, list] = {s: [] for s in markets}
    trades: list = []
    ts = 1_700_000_000_000 + 12_345
    end = ts + 21 * 86_400_000
    while ts < end:
        for s, m in markets.items():
            mids[s] = walk.next_price(m, mids[s])
            points[s].append((ts, mids[s]))
        history.record(ts, mids)
        if rng.random() < 0.3:
            size = D(rng.randint(1, 500)) / 100
            trades.append((ts + rng.randint(0, 900), size))
            history.trade(trades[-1][0], "ETH", size)
        ts += rng.randint(1, 3) * 1000 if end - ts < 6 * 3_600_000 else rng.randint(600, 1800) * 1000
    for step in INTERVALS.values():
        for start in [0] + [x - x % step for x in (end - 10 * 86_400_000, end - 3_600_000)]:
            for sym in ("BTC", "ETH", "DOGE", "PURR/USDC"):
                got = history.candles(sym, step, start, ts)
                want = point_candles(points[sym], trades if sym == "ETH" else [], step, start, ts)
                if step == 60_000 and start < ts - KEEP_BARS * step:
                    want = want[-len(got):]  # 1m bars: the last 5,000 are kept
                assert got == want, (sym, step, start)
                assert sym != "ETH" or step < 86_400_000 or sum(b.volume for b in got) > 0


def test_a_window_starting_inside_a_bar_gets_the_whole_bar():
    history = PriceHistory(["BTC"])
    for i, px in enumerate(("100", "105", "95", "101")):
        history.record(60_000 + i * 10_000, {"BTC": D(px)})
    [bar] = history.candles("BTC", 60_000, 85_000, 200_000)
    assert (bar.open_ms, bar.open, bar.high, bar.low, bar.close) == (60_000, 100, 105, 95, 101)
    assert history.candles("BTC", 60_000, 120_000, 200_000) == []


def test_the_price_history_stays_small_and_bounded():
    """Bars in arrays, at most `keep` of each interval: once the 1m bars are full, hours of 1 s ticks
    on every market add almost nothing (the point history grew by ~1.5 KB a second up to ~69 MB)."""
    symbols = [m.symbol for m in default_markets("paper")]
    prices = [{s: D(100_000 + i % 997) / 10 for s in symbols} for i in range(1000)]
    history = PriceHistory(symbols, keep=60)
    t0 = 1_699_999_200_000  # on the hour
    for i in range(3600):  # the first hour fills the 1m bars
        history.record(t0 + i * 1000, prices[i % 1000])
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(3600, 3 * 3600):  # two more hours
            history.record(t0 + i * 1000, prices[i % 1000])
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert grown < 100_000, grown  # the point history: 7,200 points x 8 markets, ~3.5 MB
    assert len(history.candles("BTC", 60_000, 0, 2 * t0)) == 60  # the keep
    assert len(history.candles("BTC", 3_600_000, 0, 2 * t0)) == 3


async def test_hyperliquid_candle_snapshot_gives_the_bars_of_every_point(clock):
    """The Hyperliquid emulator answers candleSnapshot from the same history, trades as volume."""
    from tests.hl import ADDRESS, adapter, hl_venue

    async with hl_venue(clock=clock) as (sim, url):
        sim.see(ADDRESS)
        ex = adapter(url, clock=clock)
        await ex.connect()
        try:
            points = [(clock(), sim.engine.mark("ETH"))]
            for i in range(900):
                clock.advance(2000)
                sim.step()
                points.append((clock(), sim.engine.mark("ETH")))
                if i in (100, 450):
                    await ex.place(OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.5"), client_id=f"0x{i:032x}"))
            trades = [(f.ts_ms, f.size) for f in sim.engine.fills[ADDRESS.lower()] if f.crossed]
            assert trades
            for interval in ("1m", "5m", "15m", "1h"):
                step = CANDLE_INTERVAL_MS[interval]
                got = await ex.candles("ETH", interval, 0, clock())
                want = point_candles(points, trades, step, 0, clock())
                assert [(c.open_ms, c.open, c.high, c.low, c.close, c.volume) for c in got] == [
                    (b.open_ms, b.open, b.high, b.low, b.close, b.volume) for b in want], interval
        finally:
            await ex.close()
