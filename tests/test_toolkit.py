"""The shared venue toolkit (exchanges/common/): budget, backoff, stall detection, dedupe, error
bodies and the circuit breaker, each as a trader would notice it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal as D
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from exchanges.common.bounded import SeenIds
from exchanges.common.breaker import CircuitBreaker, CircuitOpen, urgent
from exchanges.common.feed import EventFeed
from exchanges.common.nonce import NonceSource
from exchanges.common.rest import RestClient, WeightBudget
from exchanges.common.ws import WsClient, backoff_delay
from exchanges.errors import ExchangeError, RateLimitError, VenueUnavailable
from exchanges.hyperliquid.stream import HyperliquidFrames
from exchanges.models import Fill, FillEvent, OrderRequest, OrderStatus, Side
from sim.serve import start_site
from tests.conftest import FakeClock
from tests.hl import ADDRESS, adapter, control, hl_venue
from tests.tg import Rig

# ---- the weight budget ----


async def test_the_budget_keeps_its_reserve_for_cancels():
    budget = WeightBudget(per_minute=30, reserve=10)
    for _ in range(10):
        await budget.take(2, priority=False, max_wait_s=0)
    with pytest.raises(RateLimitError):
        await budget.take(2, priority=False, max_wait_s=0)  # a new order waits ...
    for _ in range(5):
        await budget.take(2, priority=True, max_wait_s=0)  # ... while every cancel of the reserve goes out
    with pytest.raises(RateLimitError):
        await budget.take(2, priority=True, max_wait_s=0)


@asynccontextmanager
async def site(routes: list[web.RouteDef]) -> AsyncIterator[str]:
    app = web.Application()
    app.add_routes(routes)
    runner, url = await start_site(app)
    try:
        yield url
    finally:
        await runner.cleanup()


async def test_a_429_backs_off_by_retry_after_else_a_little_longer_each_time():
    async def limited(request: web.Request) -> web.Response:
        hdrs = {"Retry-After": "0.3"} if request.query.get("say") else {}
        return web.json_response(None, status=429, headers=hdrs)

    async with site([web.get("/x", limited)]) as url:
        client = RestClient(url, venue="v")
        try:
            with pytest.raises(RateLimitError) as err:
                await client.request("GET", "/x", weight=1, write=False, params={"say": "1"})
            assert err.value.retry_after == pytest.approx(0.3)
            t0 = time.monotonic()
            with pytest.raises(RateLimitError) as err:  # nothing leaves before the venue's pause is over
                await client.request("GET", "/x", weight=1, write=False)
            assert time.monotonic() - t0 >= 0.25
            first = err.value.retry_after
            with pytest.raises(RateLimitError) as err:
                await client.request("GET", "/x", weight=1, write=False)
            assert err.value.retry_after == 2 * first  # no Retry-After: doubling
        finally:
            await client.close()


# ---- transport: answers that are not JSON ----


async def test_an_html_error_page_becomes_a_clear_error_with_a_short_excerpt():
    page = "<html><head><style>b{}</style></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"

    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(status=502, text=page, content_type="text/html")

    async def refused(request: web.Request) -> web.Response:
        return web.Response(status=403, text="<html><body><p>Access denied</p></body></html>",
                            content_type="text/html")

    async def garbled(request: web.Request) -> web.Response:
        return web.Response(status=200, text="<html>maintenance</html>", content_type="text/html")

    async with site([web.post("/r", bad_gateway), web.post("/f", refused), web.post("/g", garbled)]) as url:
        client = RestClient(url, venue="v")
        try:
            with pytest.raises(VenueUnavailable) as err:
                await client.request("POST", "/r", weight=1, write=False, body={})
            assert str(err.value) == "v: venue answered 502: 502 Bad Gateway nginx"
            with pytest.raises(ExchangeError) as err:
                await client.request("POST", "/f", weight=1, write=True, body={})
            assert str(err.value) == "v: venue refused the request (403): Access denied"
            with pytest.raises(ExchangeError) as err:
                await client.request("POST", "/g", weight=1, write=False, body={})
            assert str(err.value) == "v: unreadable answer: maintenance"
        finally:
            await client.close()


# ---- the WebSocket transport ----


def test_reconnects_wait_the_backoff_plus_up_to_a_quarter_of_jitter():
    assert backoff_delay(2.0, rng=lambda: 0.0) == 2.0
    assert backoff_delay(2.0, rng=lambda: 0.999) == pytest.approx(2.4995)
    waits = {backoff_delay(1.0) for _ in range(50)}
    assert len(waits) > 1 and all(1.0 <= w <= 1.25 for w in waits)  # clients do not all return at once


async def test_a_feed_silent_while_answering_pings_is_called_stalled_and_resubscribed():
    subscribed: list[Any] = []

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            if msg.type is not WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["method"] == "subscribe":
                subscribed.append(frame["subscription"])
                await sock.send_str(json.dumps({"channel": "trades", "data": [1]}))  # one message, then silence
            elif frame["method"] == "ping":
                await sock.send_str('{"channel":"pong"}')  # the socket stays healthy
        return sock

    states: list[tuple[bool, str]] = []
    got: list[Any] = []

    async def on_message(channel: str, data: Any) -> None:
        got.append((channel, data))

    async def on_state(up: bool, reason: str) -> None:
        states.append((up, reason))

    async with site([web.get("/ws", ws)]) as url:
        client = WsClient(url.replace("http", "ws") + "/ws", [{"type": "trades"}], HyperliquidFrames(), on_message,
                          on_state, ping_s=0.05, stall_s=0.3, max_backoff_s=0.05)
        task = asyncio.create_task(client.run())
        try:
            for _ in range(200):
                if len(subscribed) >= 2 and len(states) >= 3:
                    break
                await asyncio.sleep(0.02)
        finally:
            await client.close()
            task.cancel()
    assert states[:3] == [(True, "connected"), (False, "stalled: no data for 0.3s"), (True, "reconnected")]
    assert subscribed[:2] == [{"type": "trades"}, {"type": "trades"}]  # subscribed again after the reconnect
    assert ("trades", [1]) in got and all(c != "pong" for c, _ in got)


# ---- the event feed ----


def _fill(i: int, ts: int = 1) -> Fill:
    return Fill("v", f"f{i}", "1", "ETH", Side.BUY, D(3000), D(1), D(0), ts)


async def test_a_fill_is_told_once_and_the_memory_of_fills_is_bounded(clock):
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def none(*_: Any) -> list[Any]:
        return []

    feed = EventFeed("v", queue, clock, fills=none, open_orders=none, order_status=none, remember_fills=3)
    feed.emit_fill(_fill(1), snapshot=False)
    feed.emit_fill(_fill(1), snapshot=False)  # the stream and a backfill both carry it
    assert queue.qsize() == 1
    for i in range(2, 100):
        feed.emit_fill(_fill(i, ts=i), snapshot=False)
    assert len(feed.seen_fills) == 3  # a stated bound, not a set that only grows
    assert queue.qsize() == 99
    feed.emit_fill(_fill(99, ts=99), snapshot=True)  # still remembered: not told again
    assert queue.qsize() == 99
    events = [queue.get_nowait() for _ in range(99)]
    assert [e.fill.fill_id for e in events if isinstance(e, FillEvent)] == [f"f{i}" for i in range(1, 100)]


def test_seen_ids_forget_the_oldest_first():
    seen = SeenIds(2)
    assert seen.add("a") and seen.add("b") and not seen.add("a")
    seen.add("c")
    assert "a" not in seen and "b" in seen and "c" in seen


async def test_the_feed_awaits_its_background_tasks_on_close(clock):
    async def forever() -> None:
        await asyncio.Event().wait()

    async def none(*_: Any) -> list[Any]:
        return []

    feed = EventFeed("v", asyncio.Queue(), clock, fills=none, open_orders=none, order_status=none)
    task = feed.keep(forever())
    await asyncio.sleep(0)
    await feed.close()
    assert task.cancelled()


def test_nonces_rise_strictly_in_the_unit_the_venue_wants_on_its_clock():
    frozen = FakeClock()
    ms = NonceSource(frozen)
    assert [ms.next() for _ in range(3)] == [frozen.ms, frozen.ms + 1, frozen.ms + 2]
    us = NonceSource(frozen, unit="us")
    us.set_server_time(frozen.ms + 5)  # the venue's clock is 5 ms ahead of ours
    assert us.next() == (frozen.ms + 5) * 1000 and us.next() == (frozen.ms + 5) * 1000 + 1


# ---- the circuit breaker ----


async def test_the_breaker_opens_after_n_failures_and_probes_once_after_the_cool_down():
    now = [0.0]
    b = CircuitBreaker("v", threshold=3, cool_down_s=10, max_cool_down_s=15, clock=lambda: now[0])
    for _ in range(3):
        await b.before()
        b.failed()
    with pytest.raises(CircuitOpen, match="circuit open: 3 failures, probing in 10s"):
        await b.before()
    with urgent():
        await b.before()  # a cancel, a close, the kill switch: never held back
    now[0] = 10
    assert await b.before() is True  # the probe
    waiting = asyncio.ensure_future(b.before())  # another request waits for the probe's outcome
    await asyncio.sleep(0)
    assert not waiting.done()
    b.failed()
    with pytest.raises(CircuitOpen, match="probing in 15s"):
        await waiting  # the probe failed: open again, for longer (capped)
    now[0] = 25
    assert await b.before() is True
    waiting = asyncio.ensure_future(b.before())
    await asyncio.sleep(0)
    b.succeeded()
    assert await waiting is False  # it goes out as the venue is back
    assert b.state == "closed" and b.describe() is None


async def test_a_dead_venue_opens_the_circuit_answers_at_once_and_a_probe_closes_it():
    async with hl_venue() as (sim, url):
        sim.see(ADDRESS)
        ex = adapter(url, breaker=CircuitBreaker("hyperliquid", threshold=3, cool_down_s=1.0))
        await ex.connect()
        try:
            await control(url, "fault", {"kind": "503", "duration_s": 30})
            with pytest.raises(VenueUnavailable):
                await ex.balances(fresh=True)  # three failures in a row (retries included)
            with pytest.raises(VenueUnavailable):
                await ex.balances(fresh=True)
            assert (ex.circuit_status() or "").startswith("circuit open: ")
            before, t0 = len(sim.requests), time.monotonic()
            with pytest.raises(VenueUnavailable, match="circuit open"):
                await ex.fills(0)  # a read only REST can answer
            buy = OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.1"), D(3000), client_id="0x" + "1" * 32)
            with pytest.raises(VenueUnavailable, match="circuit open"):
                await ex.place(buy)
            assert time.monotonic() - t0 < 0.1 and len(sim.requests) == before  # nothing hammered the venue
            await control(url, "clear", {})
            await asyncio.sleep(1.05)
            bal = await ex.balances()  # the half-open probe: the venue answers
            assert bal.account_value > 0 and ex.circuit_status() is None
        finally:
            await ex.close()


async def test_a_kill_fired_while_the_circuit_is_open_reaches_the_venue_when_it_is_back(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", kill={"flatten": "always"}) as rig:
        orders = rig.app.risk.orders
        await orders.place(OrderRequest("hyperliquid", "BTC", Side.BUY, D("0.01"), D(97_000)))
        assert rig.hl.engine.open_orders(ADDRESS)
        ex = rig.paper
        ex.http.breaker = CircuitBreaker("hyperliquid", cool_down_s=30.0)  # no probe of its own before the kill's
        await control(rig.hl_url, "fault", {"kind": "503", "duration_s": 3})
        for _ in range(5):
            with pytest.raises(VenueUnavailable):
                await ex.balances(fresh=True)
            if ex.circuit_status():
                break
        status = await rig.trader.ask("/status")
        assert "circuit open: " in status["text"]
        first = await rig.trader.ask("/kill", within=10)
        t = await rig.trader.wait(lambda t: "confirmed by the venue" in next(
            m for m in t["messages"] if m["message_id"] == first["message_id"])["text"], within=30)
        assert rig.hl.engine.open_orders(ADDRESS) == []  # the kill's cancels went through the open circuit
        assert ex.circuit_status() is None  # and their success closed it
        assert [o for o in await rig.app.store.orders_with_status([OrderStatus.OPEN])] == []
        assert t


async def test_an_unknown_order_is_looked_up_at_the_breakers_next_probe_not_given_up(tmp_path, clock):
    """A lost answer while the circuit is open: the lookup waits for the breaker's probe (the venue is
    back by then) instead of spending its few attempts on refusals of our own breaker."""
    from dataclasses import replace as copy

    from tests.harness import make_config, rig

    async with hl_venue() as (sim, url):
        sim.see(ADDRESS)
        ex = adapter(url, breaker=CircuitBreaker("hyperliquid", threshold=3, cool_down_s=1.0))
        r = await rig(tmp_path, clock, {"hyperliquid": ex}, make_config())
        try:
            r.orders.lookup_grace_s, r.orders.lookup_attempts = 0.05, 3  # 0.05 + 0.1 + 0.2 s: over before 1 s
            placed = await ex.place(OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.1"), D(3000),
                                                 client_id="0x" + "2" * 32))
            lost = copy(placed, status=OrderStatus.UNKNOWN, order_id=None)  # as if its answer never came
            await r.store.insert_order(lost)
            await control(url, "fault", {"kind": "503", "duration_s": 30})
            with pytest.raises(VenueUnavailable):
                await ex.balances(fresh=True)
            assert (ex.circuit_status() or "").startswith("circuit open")
            await control(url, "clear", {})  # the venue is back; our breaker does not know it yet
            t0 = time.monotonic()
            found = await r.orders.resolve(lost)
            assert found.status is OrderStatus.OPEN and found.order_id == placed.order_id
            assert time.monotonic() - t0 < 2.0 and ex.circuit_status() is None
            assert (await r.store.get_order(lost.client_id or "")).status is OrderStatus.OPEN
        finally:
            await r.close()
