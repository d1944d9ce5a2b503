"""The Hyperliquid adapter against the emulator: orders, streams, gaps, rate limits, agents, vaults."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import eth_account
import pytest
from hyperliquid.exchange import Exchange as SdkExchange

from exchanges.errors import (
    AuthenticationError,
    InsufficientBalanceError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
)
from exchanges.hyperliquid.http import WeightBudget
from exchanges.models import FillEvent, OrderRequest, OrderStatus, OrderUpdate, Side, StreamStatus
from risk.order_state import new_client_id
from tests.hl import ADDRESS, KEY, adapter, hl_venue


def req(symbol: str, side: Side, size: str, price: str | None = None, **kw) -> OrderRequest:
    return OrderRequest("hyperliquid", symbol, side, D(size), D(price) if price else None,
                        client_id=kw.pop("client_id", new_client_id()), **kw)


async def events_until(ex, pred, within: float = 5.0) -> list:
    seen = []

    async def run():
        async for ev in ex.events():
            seen.append(ev)
            if pred(ev):
                return

    await asyncio.wait_for(run(), within)
    return seen


async def test_markets_balances_and_ticker(hl):
    _, _, ex = hl
    markets = await ex.markets()
    btc, purr = markets["BTC"], markets["PURR/USDC"]
    assert (btc.asset_id, btc.lot_size, btc.price_decimals) == (0, D("0.00001"), 1)
    assert (purr.asset_id, purr.native, purr.price_decimals) == (10000, "PURR/USDC", 8)
    assert markets["HYPE/USDC"].native == "@1"
    bal = await ex.balances()
    assert (bal.account_value, bal.withdrawable) == (D(100_000), D(100_000))
    assert [(b.asset, b.total) for b in bal.spot] == [("USDC", D(100_000))]
    t = await ex.ticker("BTC")
    assert t.bid < t.mark == D(100_000) < t.ask


async def test_limit_cancel_and_status_by_client_id(hl):
    _, _, ex = hl
    r = req("ETH", Side.BUY, "0.5", "3000")
    placed = await ex.place(r)
    assert placed.status is OrderStatus.OPEN and placed.client_id == r.client_id
    [listed] = await ex.open_orders()
    assert (listed.order_id, listed.client_id, listed.price, listed.size) == (placed.order_id, r.client_id, D(3000),
                                                                              D("0.5"))
    looked = await ex.order_status("ETH", client_id=r.client_id)
    assert looked.price == D(3000) and looked.order_id == placed.order_id
    await ex.cancel("ETH", client_id=r.client_id)
    assert (await ex.order_status("ETH", client_id=r.client_id)).status is OrderStatus.CANCELED
    with pytest.raises(OrderNotFoundError) as exc:
        await ex.cancel("ETH", order_id=placed.order_id)
    assert exc.value.raw == "Order was never placed, already canceled, or filled. asset=1"
    with pytest.raises(OrderNotFoundError):
        await ex.order_status("ETH", client_id=new_client_id())


async def test_market_orders_positions_and_fills_on_the_stream(hl):
    _, _, ex = hl
    await ex.set_leverage("BTC", 10)
    r = req("BTC", Side.BUY, "0.05", slippage=D("0.01"))
    order = await ex.place(r)
    assert order.status is OrderStatus.FILLED and order.filled == D("0.05") and order.avg_price > D(100_000)
    seen = await events_until(ex, lambda e: isinstance(e, FillEvent) and e.fill.client_id == r.client_id)
    fill = [e.fill for e in seen if isinstance(e, FillEvent)][-1]
    assert fill.order_id == order.order_id and fill.price == order.avg_price and not fill.is_maker
    [pos] = await ex.positions()
    assert (pos.symbol, pos.size, pos.leverage, pos.leverage_type) == ("BTC", D("0.05"), 10, "cross")
    assert pos.entry_price == order.avg_price and pos.liquidation_price is None
    close = await ex.place(req("BTC", Side.SELL, "0.05", reduce_only=True))
    assert close.status is OrderStatus.FILLED and await ex.positions() == []
    fills = await ex.fills(0)
    assert len(fills) == 2 and fills[1].realized_pnl == (fills[1].price - fills[0].price) * D("0.05")


async def test_isolated_leverage_position(hl):
    sim, _, ex = hl
    await ex.set_leverage("SOL", 10, cross=False)
    order = await ex.place(req("SOL", Side.BUY, "10", slippage=D("0.01")))
    [pos] = await ex.positions()
    assert (pos.leverage, pos.leverage_type) == (10, "isolated")
    raw = sim.engine.accounts[ADDRESS].positions["SOL"].raw_usd
    assert raw == 10 * order.avg_price / 10 - 10 * order.avg_price
    mmr = D(1) / (2 * sim.engine.markets["SOL"].max_leverage)
    assert pos.liquidation_price == -raw / (10 * (1 - mmr))  # as the venue states it, to the last digit
    with pytest.raises(InvalidOrderError, match="Cannot switch leverage type"):
        await ex.set_leverage("SOL", 10, cross=True)


async def test_venue_errors_map_into_the_hierarchy(hl):
    _, url, ex = hl
    with pytest.raises(InvalidOrderError) as exc:
        await ex.place(req("BTC", Side.BUY, "0.01", "95000.5"))
    assert exc.value.raw == "Price must be divisible by tick size. asset=0"
    with pytest.raises(InsufficientBalanceError):
        await ex.place(req("BTC", Side.BUY, "100", "95000"))
    with pytest.raises(InvalidOrderError, match="minimum value of \\$10"):
        await ex.place(req("BTC", Side.BUY, "0.00001", "95000"))
    stranger = adapter(url, key="0x" + "11" * 32, address="0x" + "22" * 20)
    with pytest.raises(AuthenticationError, match="does not exist"):
        await stranger.place(req("BTC", Side.BUY, "0.01", "95000"))
    await stranger.close()


@pytest.fixture
async def gappy():
    """An adapter that notices a silent feed within half a second."""
    async with hl_venue() as (sim, url):
        sim.see(ADDRESS)
        ex = adapter(url, stall_s=0.5, ping_s=0.1)
        await ex.connect()
        try:
            yield sim, ex
        finally:
            await ex.close()


def silence(sim, seconds: float = 1.0) -> None:
    """The feed goes quiet (pings still answered) for a while; what happens meanwhile is unheard of."""
    sim.hub.silent = True
    asyncio.get_running_loop().call_later(seconds, setattr, sim.hub, "silent", False)


async def test_an_order_cancelled_during_a_gap_is_reported_after_it(gappy):
    sim, ex = gappy
    placed = await ex.place(req("ETH", Side.BUY, "0.1", "3000"))
    silence(sim)
    sim.engine.cancel(ADDRESS, oid=int(placed.order_id))  # e.g. from the web app, unheard of
    seen = await events_until(ex, lambda e: isinstance(e, OrderUpdate) and e.order.order_id == placed.order_id
                              and e.order.status is OrderStatus.CANCELED, within=10)
    assert any(isinstance(e, StreamStatus) and not e.connected for e in seen)  # it came by the backfill
    assert ("/info", "orderStatus") in sim.requests


async def test_429_storm_is_survived_without_a_ban():
    async with hl_venue() as (sim, url):
        sim.see(ADDRESS)
        ex = adapter(url)
        ex.http.budget.first_backoff_s = ex.http.budget.backoff_s = 0.05
        await ex.connect()
        try:
            sim.faults.clear()
            from sim.hyperliquid.server import Fault

            sim.faults.append(Fault("429", count=3))
            bal = await ex.balances()  # retried after backing off
            assert bal.account_value == D(100_000)
        finally:
            await ex.close()


async def test_weight_budget_keeps_a_reserve_for_cancels():
    budget = WeightBudget(per_minute=30, reserve=10)
    for _ in range(10):
        await budget.take(2, priority=False, max_wait_s=0)
    with pytest.raises(RateLimitError):
        await budget.take(2, priority=False, max_wait_s=0)
    await budget.take(2, priority=True, max_wait_s=0)  # a cancel still goes out


async def test_agent_wallet_trades_for_the_account():
    async with hl_venue() as (sim, url):
        sim.see(ADDRESS)
        # the official SDK is synchronous: it runs in a thread while the emulator serves on this loop
        owner = await asyncio.to_thread(SdkExchange, eth_account.Account.from_key(KEY), url)
        res = await asyncio.to_thread(owner.approve_agent, "bot")
        assert res[0]["status"] == "ok", res
        agent_key = res[1]
        ex = adapter(url, key=agent_key, address=ADDRESS)
        await ex.connect()
        try:
            placed = await ex.place(req("ETH", Side.BUY, "0.1", "3000"))
            assert placed.status is OrderStatus.OPEN
            assert [o.order_id for o in await ex.open_orders()] == [placed.order_id]  # on the account's book
        finally:
            await ex.close()


async def test_vault_trading():
    vault = "0x" + "ab" * 20
    async with hl_venue() as (sim, url):
        sim.see(ADDRESS)
        sim.accounts.vaults[vault] = ADDRESS
        sim.see(vault)
        ex = adapter(url, vault_address=vault)
        await ex.connect()
        try:
            placed = await ex.place(req("ETH", Side.BUY, "0.1", "3000"))
            assert placed.status is OrderStatus.OPEN
            assert sim.engine.open_orders(vault) and not sim.engine.open_orders(ADDRESS)
        finally:
            await ex.close()


async def test_dead_man_switch_refusal_is_reported():
    async with hl_venue(schedule_cancel_volume=D(1_000_000)) as (sim, url):
        sim.see(ADDRESS)
        ex = adapter(url)
        try:
            with pytest.raises(Exception) as exc:
                await ex.arm_dead_man_switch(60)
            assert "Cannot set scheduled cancel time until enough volume traded. Required: $1000000." in str(exc.value)
        finally:
            await ex.close()


async def test_funding_of_a_long_history_is_read_whole_across_pages():
    # the venue answers at most 500 entries per time range, and pays every market in the same millisecond
    offset = [0]

    def clock() -> int:
        import time

        return int(time.time() * 1000) + offset[0]

    async with hl_venue(clock=clock) as (sim, url):
        sim.see(ADDRESS)
        ex = adapter(url)
        await ex.connect()
        try:
            for symbol, size in (("BTC", "0.01"), ("ETH", "0.2"), ("SOL", "3")):
                await ex.place(req(symbol, Side.BUY, size, None))
            start = clock()
            for _ in range(240):  # 240 hours x 3 markets = 720 payments
                offset[0] += 3_600_000
                for symbol in ("BTC", "ETH", "SOL"):
                    sim.engine.apply_funding(symbol, D("0.0001"))
            got = await ex.funding_payments(start)
            assert len(got) == 720 and len({(p.ts_ms, p.symbol) for p in got}) == 720
            assert {p.symbol for p in got} == {"BTC", "ETH", "SOL"}
            assert all(p.amount < 0 for p in got)  # longs pay at a positive rate
        finally:
            await ex.close()
