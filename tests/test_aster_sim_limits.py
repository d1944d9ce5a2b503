"""Weights, 429 with Retry-After, the 418 ban for clients that ignore it, order counts, and faults."""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.aster import Client, aster_venue, call, control, registered

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
         "price": "99000"}


@pytest.fixture
async def venue():
    async with aster_venue(weight_per_minute=10) as (sim, url), aiohttp.ClientSession() as s:
        await registered(url)
        sim.clock.offset_ms = 60_000 - sim.clock.base() % 60_000 + 1000  # one second into a fresh minute
        yield sim, url, Client(s, url, sim.clock), s


async def _get(s: aiohttp.ClientSession, url: str, path: str = "/fapi/v1/time") -> tuple[int, dict, dict]:
    return await call(s, "GET", url + path)


async def test_ignored_429s_lead_to_a_418_ban_with_its_expiry(venue):
    sim, url, _c, s = venue
    used = [int((await _get(s, url))[2]["X-MBX-USED-WEIGHT-1M"]) for _ in range(10)]
    assert used == list(range(1, 11))
    status, body, headers = await _get(s, url)
    assert status == 429 and body["code"] == -1003 and 1 <= int(headers["Retry-After"]) <= 60
    assert body["msg"] == ("Too many requests; current limit is 10 requests per minute. Please use the websocket"
                           " for live updates to avoid polling the API.")
    statuses = [(await _get(s, url))[0] for _ in range(3)]  # not waiting as told
    assert statuses == [429, 429, 418]
    status, body, headers = await _get(s, url)
    banned_until = int(re.search(r"banned until (\d+)", body["msg"]).group(1))
    assert status == 418 and body["code"] == -1003
    assert banned_until - sim.clock() == pytest.approx(120_000, abs=2000)  # 2 minutes, the docs' shortest ban
    assert int(headers["Retry-After"]) == pytest.approx(120, abs=2)
    assert (await _get(s, url, "/fapi/v1/depth?symbol=BTCUSDT"))[0] == 418  # every path, from this IP
    await control(url, "time", {"offset_ms": sim.clock.offset_ms + 121_000})
    assert (await _get(s, url))[0] == 200  # the ban is over
    for _ in range(9):
        assert (await _get(s, url))[0] == 200
    assert [(await _get(s, url))[0] for _ in range(4)] == [429, 429, 429, 418]
    _, body, headers = await _get(s, url)
    assert int(headers["Retry-After"]) == pytest.approx(240, abs=2)  # a repeat offender waits longer


async def test_a_client_honouring_retry_after_is_never_banned(venue):
    sim, url, _c, s = venue
    limited = 0
    for _ in range(60):
        status, _body, headers = await _get(s, url)
        assert status != 418
        if status == 429:
            limited += 1
            wait_ms = int(headers["Retry-After"]) * 1000
            await control(url, "time", {"offset_ms": sim.clock.offset_ms + wait_ms})  # it waits as told
    assert limited >= 4  # it hit the limit again and again, and was never banned


async def test_weights_per_endpoint_and_order_counts():
    async with aster_venue() as (sim, url), aiohttp.ClientSession() as s:
        await registered(url)
        c = Client(s, url, sim.clock)
        sim.clock.offset_ms = 60_000 - sim.clock.base() % 60_000 + 1000
        _, _, h = await call(s, "GET", url + "/fapi/v1/depth?symbol=BTCUSDT&limit=1000")
        assert h["X-MBX-USED-WEIGHT-1M"] == "20"
        _, _, h = await call(s, "GET", url + "/fapi/v1/ticker/24hr")  # every symbol: 40
        assert h["X-MBX-USED-WEIGHT-1M"] == "60"
        status, _, h = await c.v3("POST", "/fapi/v3/order", ORDER)
        assert status == 200 and h["X-MBX-ORDER-COUNT-1M"] == "1"
        sim.f.limits.orders = ((60_000, 2),)
        assert (await c.v3("POST", "/fapi/v3/order", ORDER))[2]["X-MBX-ORDER-COUNT-1M"] == "2"
        status, body, h = await c.v3("POST", "/fapi/v3/order", ORDER)
        assert status == 429 and body == {"code": -1015, "msg": "Too many new orders; current limit is 2 orders per"
                                                               " MINUTE."}
        assert "Retry-After" not in h  # order-count 429s come without it
        _, _, h = await c.v3("POST", "/api/v3/order", {**ORDER, "quantity": "0.001"})
        assert h["X-MBX-ORDER-COUNT-10S"] == "1" and h["X-MBX-ORDER-COUNT-1M"] == "1"  # spot counts on its own


async def test_503_may_or_may_not_have_carried_the_order_out():
    async with aster_venue() as (_sim, url), aiohttp.ClientSession() as s:
        await registered(url)
        c = Client(s, url)
        unknown = {"code": -1000, "msg": "Unknown error, please check your request or try again later."}
        await control(url, "fault", {"kind": "503", "path": "/order", "executed": True})
        status, body, _ = await c.v3("POST", "/fapi/v3/order", {**ORDER, "newClientOrderId": "maybe-1"})
        assert (status, body) == (503, unknown)
        found = await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "maybe-1"})
        assert found[0] == 200 and found[1]["status"] == "NEW"  # it was placed
        await control(url, "fault", {"kind": "503", "path": "/order"})
        assert (await c.v3("POST", "/fapi/v3/order", {**ORDER, "newClientOrderId": "maybe-2"}))[0] == 503
        lookup = await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "maybe-2"})
        assert lookup[1] == {"code": -2013, "msg": "Order does not exist."}  # it was not


async def test_html_5xx_drop_hold_latency_and_injected_limits():
    async with aster_venue() as (_sim, url), aiohttp.ClientSession() as s:
        await registered(url)
        c = Client(s, url)
        await control(url, "fault", {"kind": "5xx", "path": "/api/v3/account"})
        status, body, headers = await c.v3("GET", "/api/v3/account")
        assert status == 502 and "<html>" in body and headers["Content-Type"].startswith("text/html")
        await control(url, "fault", {"kind": "drop", "path": "/fapi/v3/order"})
        with pytest.raises(aiohttp.ClientError):
            await c.v3("POST", "/fapi/v3/order", {**ORDER, "newClientOrderId": "dropped"})
        kept = await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "dropped"})
        assert kept[1]["status"] == "NEW"  # accepted before the answer was lost
        await control(url, "fault", {"kind": "hold", "ms": 150, "path": "/fapi/v3/order"})
        loop = __import__("asyncio").get_running_loop()
        t0 = loop.time()
        assert (await c.v3("POST", "/fapi/v3/order", ORDER))[0] == 200
        assert loop.time() - t0 >= 0.15
        await control(url, "fault", {"kind": "latency", "ms": 50, "count": 1})
        t0 = loop.time()
        assert (await call(s, "GET", url + "/fapi/v1/ping"))[0] == 200
        assert loop.time() - t0 >= 0.1  # both ways
        await control(url, "fault", {"kind": "429"})
        status, body, headers = await call(s, "GET", url + "/fapi/v1/ping")
        assert status == 429 and body["code"] == -1003 and headers["Retry-After"] == "1"
        await control(url, "fault", {"kind": "418", "ms": 60_000})
        assert (await call(s, "GET", url + "/fapi/v1/ping"))[0] == 418
        await control(url, "clear", {})
        assert (await call(s, "GET", url + "/fapi/v1/ping"))[0] == 200
