"""ccxt 4.5.90's Aster client, unchanged, against the emulator: only its `urls` point at it.

ccxt signs every private call with the V3 EIP-712 scheme, as a main wallet signing for itself.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from tests.aster import MAIN, aster_venue, ccxt_client, control, pro_client

SWAP, SPOT = "BTC/USDT:USDT", "BTC/USDT"
MAIN_L = MAIN.lower()
CCXT_BUILDER = "0x1f5877c19e3777cfd15f9d57253ea4aa5254ec39"  # ccxt's own builder (its options.builder)


@pytest.fixture
async def venue():
    async with aster_venue() as (sim, url):
        ex = ccxt_client(url)
        try:
            yield sim, url, ex
        finally:
            await ex.close()


async def test_markets_balances_book_ticker_funding(venue):
    sim, _url, ex = venue
    markets = await ex.load_markets()
    assert {SWAP, SPOT, "ETH/USDT:USDT", "ETH/USDT"} <= set(markets)
    assert markets[SWAP]["id"] == markets[SPOT]["id"] == "BTCUSDT"  # one id on both sides, as the venue lists
    assert markets[SWAP]["precision"]["price"] == 0.1 and markets[SWAP]["limits"]["cost"]["min"] == 5
    spot = await ex.fetch_balance()  # ccxt's default type is spot
    assert spot["USDT"]["free"] == 100_000 and spot["USDT"]["used"] == 0
    swap = await ex.fetch_balance({"type": "swap"})
    assert swap["USDT"]["total"] == 100_000 and swap["USDT"]["free"] == 100_000
    book = await ex.fetch_order_book(SWAP, 3)  # ccxt asks for limit=5, the next the venue allows
    assert len(book["bids"]) == 5 and book["bids"][0][0] < 100_000 < book["asks"][0][0]
    assert ("GET", "/fapi/v3/depth") in sim.requests
    ticker = await ex.fetch_ticker(SWAP)
    assert ticker["last"] == 100_000 and ticker["symbol"] == SWAP
    spot_ticker = await ex.fetch_ticker(SPOT)
    assert spot_ticker["bid"] < spot_ticker["ask"] and spot_ticker["symbol"] == SPOT
    rate = await ex.fetch_funding_rate(SWAP)
    assert rate["fundingRate"] == 0.0001 and rate["markPrice"] == 100_000
    assert rate["nextFundingTimestamp"] % (8 * 3_600_000) == 0


async def test_swap_orders_from_limit_to_reduce_only(venue):
    _sim, _url, ex = venue
    await ex.load_markets()
    o = await ex.create_order(SWAP, "limit", "buy", 0.01, 99_000, {"clientOrderId": "grid-1"})
    assert o["clientOrderId"] == "grid-1" and o["status"] == "open" and o["price"] == 99_000
    by_id = await ex.fetch_order(o["id"], SWAP)
    by_cid = await ex.fetch_order(None, SWAP, {"clientOrderId": "grid-1"})
    assert by_id["id"] == by_cid["id"] == o["id"] and by_id["amount"] == 0.01 and by_id["filled"] == 0
    assert [x["id"] for x in await ex.fetch_open_orders(SWAP)] == [o["id"]]
    canceled = await ex.cancel_order(o["id"], SWAP)
    assert canceled["status"] == "canceled"
    assert (await ex.fetch_order(o["id"], SWAP))["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):  # -2011 Unknown order sent.
        await ex.cancel_order(o["id"], SWAP)

    await ex.set_leverage(10, SWAP)
    bought = await ex.create_order(SWAP, "market", "buy", 0.01)
    filled = await ex.fetch_order(bought["id"], SWAP)
    assert filled["status"] == "closed" and filled["filled"] == 0.01 and filled["average"] > 100_000
    [pos] = await ex.fetch_positions()
    assert pos["symbol"] == SWAP and pos["side"] == "long" and pos["contracts"] == 0.01 and pos["leverage"] == 10
    trades = await ex.fetch_my_trades(SWAP)
    assert [t["order"] for t in trades] == [bought["id"]] and trades[0]["takerOrMaker"] == "taker"
    assert trades[0]["fee"]["cost"] == pytest.approx(0.01 * trades[0]["price"] * 0.00035)

    closed = await ex.create_order(SWAP, "market", "sell", 0.01, None, {"reduceOnly": True})
    assert closed["reduceOnly"] is True
    assert await ex.fetch_positions() == []
    with pytest.raises(ccxt.OperationRejected):  # nothing left to reduce: -2022
        await ex.create_order(SWAP, "market", "sell", 0.01, None, {"reduceOnly": True})


async def test_post_only_and_cancel_all(venue):
    sim, _url, ex = venue
    await ex.load_markets()
    crossing = await ex.create_order(SWAP, "limit", "buy", 0.01, 100_100, {"postOnly": True})
    assert (await ex.fetch_order(crossing["id"], SWAP))["status"] == "canceled"  # EXPIRED: it would have taken
    assert (await ex.fetch_order(crossing["id"], SWAP))["info"]["status"] == "EXPIRED"
    resting = await ex.create_order(SWAP, "limit", "buy", 0.01, 99_500, {"postOnly": True})
    assert resting["timeInForce"] == "GTX" and resting["status"] == "open"
    await ex.create_order(SWAP, "limit", "sell", 0.01, 101_000)
    assert len(await ex.fetch_open_orders(SWAP)) == 2
    await ex.cancel_all_orders(SWAP)
    assert await ex.fetch_open_orders(SWAP) == []
    assert sim.f.engine.open_orders(MAIN_L) == []


async def test_spot_orders_balances_and_trades(venue):
    _sim, _url, ex = venue
    await ex.load_markets()
    resting = await ex.create_order(SPOT, "limit", "buy", 0.001, 99_000, {"clientOrderId": "spot-1"})
    assert resting["clientOrderId"] == "spot-1" and (await ex.fetch_order(resting["id"], SPOT))["status"] == "open"
    assert (await ex.fetch_balance())["USDT"]["used"] == pytest.approx(99 * 1.00035)
    await ex.cancel_order(resting["id"], SPOT)
    post_only = await ex.create_order(SPOT, "limit", "buy", 0.001, 99_500, {"postOnly": True})
    assert post_only["timeInForce"] == "GTX" and post_only["status"] == "open"
    await ex.cancel_all_orders(SPOT)
    assert await ex.fetch_open_orders(SPOT) == []
    bought = await ex.create_order(SPOT, "market", "buy", 0.001, 100_000)  # ccxt sends quoteOrderQty=100
    done = await ex.fetch_order(bought["id"], SPOT)
    assert done["status"] == "closed" and 0 < done["cost"] <= 100 and done["filled"] == pytest.approx(0.00099)
    balance = await ex.fetch_balance()
    assert balance["BTC"]["total"] == pytest.approx(0.00099) and balance["USDT"]["total"] < 99_901
    [t] = await ex.fetch_my_trades(SPOT)
    assert t["order"] == bought["id"] and t["side"] == "buy" and t["symbol"] == SPOT
    sold = await ex.create_order(SPOT, "market", "sell", 0.00099)
    assert (await ex.fetch_order(sold["id"], SPOT))["status"] == "closed"
    assert (await ex.fetch_balance()).get("BTC", {}).get("total", 0) == 0


async def test_builder_fee_flow_on():
    """ccxt's default: it looks its builder up, approves it (a main-wallet EIP-712 ApproveBuilder), and
    sends `builder` + `feeRate` with every swap order; the builder is paid that rate of each fill."""
    async with aster_venue() as (sim, url):
        ex = ccxt_client(url, builder_fee=True)
        try:
            await ex.load_markets()
            assert ("GET", "/fapi/v3/builder") in sim.requests and ("POST", "/fapi/v3/approveBuilder") in sim.requests
            assert sim.registry.builders[MAIN_L][CCXT_BUILDER][0] == Decimal("0.001")
            assert ex.options["builderFee"] is True  # the approval went through (ccxt turns it off on failure)
            o = await ex.create_order(SWAP, "market", "buy", 0.01)
            [t] = await ex.fetch_my_trades(SWAP)
            notional = Decimal(t["info"]["quoteQty"])
            assert sim.f.engine.accounts[CCXT_BUILDER].collateral == notional * Decimal("0.001")
            assert Decimal(t["info"]["commission"]) == notional * (Decimal("0.00035") + Decimal("0.001"))
            assert (await ex.fetch_order(o["id"], SWAP))["status"] == "closed"
            spot = await ex.create_order(SPOT, "limit", "buy", 0.001, 99_000)  # spot orders carry no builder
            assert spot["status"] == "open"
        finally:
            await ex.close()


async def test_builder_fee_flow_off_sends_no_builder(venue):
    sim, _url, ex = venue
    await ex.load_markets()
    await ex.create_order(SWAP, "market", "buy", 0.01)
    assert not any("builder" in p.lower() for _, p in sim.requests)
    assert CCXT_BUILDER not in sim.f.engine.accounts


async def test_pro_watch_order_book_follows_the_price():
    async with aster_venue() as (_sim, url):
        ex = pro_client(url)
        try:
            book = await ex.watch_order_book(SWAP, 5)
            assert len(book["bids"]) == 5 and book["bids"][0][0] < 100_000 < book["asks"][0][0]
            await control(url, "price", {"symbol": "BTCUSDT", "px": "101000"})
            for _ in range(20):
                book = await asyncio.wait_for(ex.watch_order_book(SWAP, 5), 5)
                if book["bids"][0][0] > 100_000:
                    break
            assert book["bids"][0][0] < 101_000 < book["asks"][0][0]
            spot = await ex.watch_order_book(SPOT, 10)
            assert len(spot["asks"]) == 10 and spot["asks"][0][0] > spot["bids"][0][0]
        finally:
            await ex.close()
