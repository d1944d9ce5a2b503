"""User-data and market streams: what a client connected to them sees."""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal

import aiohttp
import pytest

from tests.aster import Client, aster_venue, call, control, next_message, registered

MINUTE = 60_000


@pytest.fixture
async def venue():
    async with aster_venue() as (sim, url), aiohttp.ClientSession() as s:
        await registered(url)
        yield sim, url, Client(s, url, sim.clock), s


async def _user_ws(c: Client, s: aiohttp.ClientSession, url: str, spot: bool = False):
    path = "/api/v3/listenKey" if spot else "/fapi/v3/listenKey"
    key = (await c.v3("POST", path))[1]["listenKey"]
    ws = await s.ws_connect(f"{url.replace('http://', 'ws://')}/{'sstream' if spot else 'fstream'}/ws/{key}")
    return key, ws


def _orders_of(events: list, oid: int) -> list:
    return [e["o"] for e in events if e.get("e") == "ORDER_TRADE_UPDATE" and e["o"]["i"] == oid]


async def _drain(ws, until, wait_s: float = 3.0) -> list:
    got: list = []
    try:
        while not until(got):
            got.append(await next_message(ws, wait_s=wait_s))
    except TimeoutError:
        pass
    return got


async def test_every_fill_of_a_rest_order_is_an_order_trade_update(venue):
    _sim, url, c, s = venue
    _, ws = await _user_ws(c, s, url)
    status, order, _ = await c.v3("POST", "/fapi/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                             "quantity": "2.000", "newOrderRespType": "RESULT"})
    assert status == 200 and order["status"] == "FILLED"
    trades = (await c.v3("GET", "/fapi/v3/userTrades", {"symbol": "BTCUSDT"}))[1]
    assert len(trades) >= 3  # it walked the book: one trade per level
    events = await _drain(ws, lambda got: any(o["X"] == "FILLED" for o in _orders_of(got, order["orderId"]))
                          and any(e.get("e") == "ACCOUNT_UPDATE" for e in got))
    mine = _orders_of(events, order["orderId"])
    assert mine[0]["x"] == "NEW" and mine[0]["c"] == order["clientOrderId"]
    fills = [o for o in mine if o["x"] == "TRADE"]
    assert [f["t"] for f in fills] == [t["id"] for t in trades]
    assert [f["l"] for f in fills] == [t["qty"] for t in trades]
    assert [f["L"] for f in fills] == [t["price"] for t in trades]
    assert sum(Decimal(f["l"]) for f in fills) == 2 and fills[-1]["z"] == "2.000" and fills[-1]["X"] == "FILLED"
    assert all(f["X"] == "PARTIALLY_FILLED" for f in fills[:-1]) and all(f["m"] is False for f in fills)
    account = next(e for e in events if e.get("e") == "ACCOUNT_UPDATE")
    assert account["a"]["m"] == "ORDER" and account["a"]["P"][0]["pa"] == "2.000"

    # a resting order the market later runs through: its fills arrive as it fills
    _, rest, _ = await c.v3("POST", "/fapi/v3/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                                       "timeInForce": "GTC", "quantity": "0.500", "price": "100500"})
    await control(url, "price", {"symbol": "BTCUSDT", "px": "101000"})
    events = await _drain(ws, lambda got: any(o["X"] == "FILLED" for o in _orders_of(got, rest["orderId"])))
    later = _orders_of(events, rest["orderId"])
    assert later[0]["x"] == "NEW" and later[-1]["x"] == "TRADE" and later[-1]["X"] == "FILLED"
    assert later[-1]["m"] is True and later[-1]["L"] == "100500.0" and later[-1]["rp"] != "0"


async def test_spot_fills_are_execution_reports(venue):
    _sim, url, c, s = venue
    _, ws = await _user_ws(c, s, url, spot=True)
    _, order, _ = await c.v3("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                       "quantity": "0.60000"})
    events = await _drain(ws, lambda got: any(e.get("X") == "FILLED" for e in got))
    reports = [e for e in events if e.get("e") == "executionReport" and e["i"] == order["orderId"]]
    trades = (await c.v3("GET", "/api/v3/userTrades", {"symbol": "BTCUSDT"}))[1]
    assert [r["x"] for r in reports] == ["NEW"] + ["TRADE"] * len(trades) and len(trades) >= 2
    assert [r["t"] for r in reports[1:]] == [t["id"] for t in trades]
    position = await next_message(ws, lambda e: e.get("e") == "outboundAccountPosition")
    assert {b["a"] for b in position["B"]} == {"BTC", "USDT"}


async def test_a_listen_key_ages_out_unless_kept_alive(venue):
    sim, url, c, s = venue
    key, ws = await _user_ws(c, s, url)
    assert (await c.v3("POST", "/fapi/v3/listenKey"))[1]["listenKey"] == key  # the live key, extended
    await control(url, "time", {"offset_ms": 50 * MINUTE})
    assert (await c.v3("PUT", "/fapi/v3/listenKey"))[1] == {}
    await control(url, "time", {"offset_ms": 100 * MINUTE})  # 50 minutes after the keep-alive: still alive
    assert (await c.v3("PUT", "/fapi/v3/listenKey"))[1] == {}
    await control(url, "time", {"offset_ms": 161 * MINUTE})  # 61 minutes after the last one
    expired = await next_message(ws, lambda e: e.get("e") == "listenKeyExpired")
    assert expired["E"] >= sim.clock() - 1000
    assert (await c.v3("PUT", "/fapi/v3/listenKey"))[1] == {"code": -1125, "msg": "This listenKey does not exist."}
    await c.v3("POST", "/fapi/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"})
    with pytest.raises(TimeoutError):  # nothing more on the expired key
        await next_message(ws, lambda e: e.get("e") == "ORDER_TRADE_UPDATE", wait_s=0.3)
    assert (await c.v3("POST", "/fapi/v3/listenKey"))[1]["listenKey"] != key
    status, _ = (await c.v3("DELETE", "/fapi/v3/listenKey"))[:2]
    assert status == 200


async def test_the_listenkey_expire_fault(venue):
    _sim, url, c, s = venue
    _, ws = await _user_ws(c, s, url)
    await control(url, "fault", {"kind": "listenkey_expire"})
    assert (await next_message(ws))["e"] == "listenKeyExpired"


async def test_raw_combined_and_live_subscriptions(venue):
    sim, url, c, s = venue
    ws_url = url.replace("http://", "ws://")
    raw = await s.ws_connect(f"{ws_url}/fstream/ws/btcusdt@bookTicker")
    first = await next_message(raw)
    assert first["e"] == "bookTicker" and "stream" not in first  # raw: the payload alone
    combined = await s.ws_connect(f"{ws_url}/fstream/stream?streams=btcusdt@aggTrade/ethusdt@bookTicker")
    assert (await next_message(combined))["stream"] == "ethusdt@bookTicker"
    await combined.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"]})  # no id, as ccxt sends
    assert await next_message(combined, lambda m: "result" in m) == {"result": None, "id": None}
    await combined.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 7})
    listed = await next_message(combined, lambda m: m.get("id") == 7)
    assert listed["result"] == ["btcusdt@aggTrade", "ethusdt@bookTicker", "btcusdt@markPrice@1s"]
    mark = await next_message(combined, lambda m: m.get("stream") == "btcusdt@markPrice@1s")
    assert mark["data"]["e"] == "markPriceUpdate" and mark["data"]["p"] == "100000.00000000"
    await c.v3("POST", "/fapi/v3/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.010"})
    agg = await next_message(combined, lambda m: m.get("stream") == "btcusdt@aggTrade")
    assert agg["data"]["q"] == "0.010" and agg["data"]["m"] is True  # a sell took the bid: the buyer made it
    await combined.send_json({"method": "UNSUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 8})
    await next_message(combined, lambda m: m.get("id") == 8)
    await c.v3("POST", "/fapi/v3/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.010"})
    with pytest.raises(TimeoutError):
        await next_message(combined, lambda m: m.get("stream") == "btcusdt@aggTrade", wait_s=0.3)
    spot = await s.ws_connect(f"{ws_url}/sstream/ws/btcusdt@depth5")  # spot streams, spot book
    assert (await next_message(spot))["b"][0][0] == str(sim.s.engine.books["BTC/USDT"].best_bid().quantize(
        Decimal("0.01")))


async def test_a_local_book_from_the_docs_procedure_matches_the_venue(venue):
    """Buffer btcusdt@depth, take a REST snapshot, drop u < lastUpdateId, check pu == previous u, apply."""
    _sim, url, c, s = venue
    ws = await s.ws_connect(f"{url.replace('http://', 'ws://')}/fstream/stream?streams=btcusdt@depth")
    await c.v3("POST", "/fapi/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                          "quantity": "0.300", "price": "99500"})
    buffered = [(await next_message(ws))["data"]]
    snap = (await c.public("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 1000}))[1]
    book = {side: {Decimal(p): Decimal(q) for p, q in snap[key]} for side, key in (("b", "bids"), ("a", "asks"))}
    for step in range(3):
        await control(url, "step", {})
        await c.v3("POST", "/fapi/v3/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                              "quantity": f"0.{step + 1}00"})
        buffered.append((await next_message(ws))["data"])
    events = [e for e in buffered if e["u"] >= snap["lastUpdateId"]]
    assert events[0]["U"] <= snap["lastUpdateId"] + 1 <= events[0]["u"] + 1
    for prev, e in itertools.pairwise(events):
        assert e["pu"] == prev["u"]  # no gap
    while True:  # what is still coming
        try:
            e = (await next_message(ws, wait_s=0.2))["data"]
        except TimeoutError:
            break
        assert e["pu"] == events[-1]["u"]
        events.append(e)
    for e in events:
        for side in ("b", "a"):
            for p, q in e[side]:
                if Decimal(q) == 0:
                    book[side].pop(Decimal(p), None)
                else:
                    book[side][Decimal(p)] = Decimal(q)
    now = (await c.public("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 1000}))[1]
    assert now["lastUpdateId"] == events[-1]["u"]
    assert sorted(book["b"].items(), reverse=True) == [(Decimal(p), Decimal(q)) for p, q in now["bids"]]
    assert sorted(book["a"].items()) == [(Decimal(p), Decimal(q)) for p, q in now["asks"]]


async def test_silent_and_closed_streams(venue):
    _sim, url, _c, s = venue
    ws = await s.ws_connect(f"{url.replace('http://', 'ws://')}/fstream/ws/btcusdt@depth5")
    await next_message(ws)
    await control(url, "fault", {"kind": "ws_silent"})
    await asyncio.sleep(0.05)
    while not ws._reader.is_eof() and ws._reader._buffer:  # what was on the way already
        await ws.receive()
    with pytest.raises(TimeoutError):
        await next_message(ws, wait_s=0.6)  # partial depth comes every 250 ms: nothing now
    await ws.ping()  # still up, still answering
    await control(url, "clear", {})
    assert (await next_message(ws))["e"] == "depthUpdate"
    await control(url, "fault", {"kind": "ws_close"})
    msg = await ws.receive(timeout=2)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def test_server_pings_pong_timeout_and_the_24_hour_cut():
    async with aster_venue(ping_interval_s=0.1, pong_timeout_s=0.5) as (_sim, url), aiohttp.ClientSession() as s:
        ws_url = url.replace("http://", "ws://")
        silent = await s.ws_connect(f"{ws_url}/fstream/ws/btcusdt@aggTrade", autoping=False)
        assert (await silent.receive(timeout=2)).type is aiohttp.WSMsgType.PING
        kept = await s.ws_connect(f"{ws_url}/fstream/ws/btcusdt@aggTrade")  # aiohttp answers pings itself
        closed = await silent.receive(timeout=2)
        while closed.type is aiohttp.WSMsgType.PING:  # it never answers: dropped after the pong timeout
            closed = await silent.receive(timeout=2)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert not kept.closed
        await control(url, "time", {"offset_ms": 24 * 3_600_000})
        try:  # a connection lives 24 hours
            msg = await kept.receive(timeout=2)
            while msg.type is aiohttp.WSMsgType.PING:
                msg = await kept.receive(timeout=2)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        except aiohttp.ClientConnectionResetError:
            pass  # closed while aiohttp was answering a ping
        assert kept.closed or kept._reader.is_eof()
        status, _, _ = await call(s, "GET", url + "/fapi/v1/ping")
        assert status == 200 and json.dumps({})
