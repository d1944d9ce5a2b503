"""The Aster adapter against the Aster emulator, where it differs from the contract suite: V1 keys,
a skewed venue clock, listenKeys that expire, a user stream that drops, and a 503 on submit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal as D
from typing import Any

import pytest

from exchanges.aster.adapter import AsterExchange
from exchanges.aster.http import Credentials
from exchanges.errors import OrderStateUnknown
from exchanges.models import FillEvent, OrderRequest, OrderStatus, Side, StreamStatus
from risk.order_state import new_client_id
from tests.aster import API_KEY, API_SECRET, SIGNER, SIGNER_KEY, USER, aster_venue, control
from tests.contract.conftest import Tape

FUNDS = D(100_000)


@asynccontextmanager
async def aster(*, v1: bool = False, offset_ms: int = 0, sync: bool = True,
                **kw: Any) -> AsyncIterator[tuple[Any, str, AsterExchange]]:
    async with aster_venue(fund_usdt=FUNDS) as (sim, url):
        if v1:
            await control(url, "apikey", {"user": USER, "api_key": API_KEY, "api_secret": API_SECRET})
            creds = Credentials(api_key=API_KEY, api_secret=API_SECRET)
        else:
            await control(url, "signer", {"user": USER, "signer": SIGNER})
            creds = Credentials(user=USER.lower(), signer_key=SIGNER_KEY)
        sim.see(USER.lower())
        if offset_ms:
            await control(url, "time", {"offset_ms": offset_ms})
        ws = url.replace("http://", "ws://")
        ex = AsterExchange(base_url=url, spot_base_url=url, ws_url=f"{ws}/fstream/ws", spot_ws_url=f"{ws}/sstream",
                           credentials=creds, **kw)
        if not sync:
            ex.sync_time = _no_sync  # type: ignore[method-assign]
        await ex.connect()
        try:
            yield sim, url, ex
        finally:
            await ex.close()


async def _no_sync() -> None:
    return None


def order(symbol: str, side: Side, size: str, price: str | None = None, **kw: Any) -> OrderRequest:
    return OrderRequest("aster", symbol, side, D(size), D(price) if price else None, client_id=new_client_id(),
                        slippage=D("0.01") if price is None else None, **kw)


async def test_v1_keys_trade_futures_and_spot_and_hear_their_fills():
    async with aster(v1=True) as (_, _, ex):
        assert ex.f == "/fapi/v1" and not ex.creds.v3
        tape = Tape(ex)
        try:
            perp = await ex.place(order("BTC", Side.BUY, "0.01"))
            spot = await ex.place(order("BTC/USDT", Side.BUY, "0.01"))
            assert perp.status is spot.status is OrderStatus.FILLED
            for placed in (perp, spot):
                await tape.until(lambda e, o=placed: isinstance(e, FillEvent) and e.fill.order_id == o.order_id)
            [pos] = await ex.positions(fresh=True)
            assert (pos.symbol, pos.size) == ("BTC", D("0.01"))
            bal = await ex.balances(fresh=True)
            assert next(b for b in bal.spot if b.asset == "BTC").total == D("0.01")
            assert {f.symbol for f in await ex.fills(0)} == {"BTC", "BTC/USDT"}
        finally:
            await tape.close()


async def test_a_venue_clock_three_seconds_behind_is_absorbed():
    # V1 timestamps must not be ahead of the venue's clock by more than a second: measured at start
    import aiohttp

    from tests.aster import call, v1_query

    async with aster_venue(fund_usdt=FUNDS) as (_, url):  # the skew is real: a request on our clock is refused
        await control(url, "apikey", {"user": USER, "api_key": API_KEY, "api_secret": API_SECRET})
        await control(url, "time", {"offset_ms": -3000})
        async with aiohttp.ClientSession() as s:
            status, body, _ = await call(s, "GET", f"{url}/fapi/v2/balance", v1_query({}),
                                         headers={"X-MBX-APIKEY": API_KEY})
        assert (status, body["code"]) == (400, -1021)
    async with aster(v1=True, offset_ms=-3000, sync=False) as (_, _, unmeasured):  # measured at its first refusal
        assert (await unmeasured.balances(fresh=True)).account_value == FUNDS
    async with aster(v1=True, offset_ms=-3000) as (_, _, ex):
        assert -3500 < ex.nonces.offset_ms < -2500
        placed = await ex.place(order("ETH", Side.BUY, "0.1", "3000"))
        assert placed.status is OrderStatus.OPEN
    async with aster(offset_ms=3000) as (_, _, v3):  # V3 nonces on the venue's clock too
        assert (await v3.place(order("ETH", Side.BUY, "0.1", "3000"))).status is OrderStatus.OPEN


async def test_a_venue_clock_that_moves_later_is_measured_again_on_its_first_refusal():
    async with aster(v1=True) as (_, url, ex):
        assert abs(ex.nonces.offset_ms) < 500
        await control(url, "time", {"offset_ms": -3000})  # the venue's clock steps back 3 s
        bal = await ex.balances(fresh=True)  # -1021, measured again, signed again: answered
        assert bal.account_value == FUNDS and -3500 < ex.nonces.offset_ms < -2500


async def test_an_expired_listen_key_is_renewed_and_no_fill_is_lost():
    async with aster() as (_, url, ex):
        tape = Tape(ex)
        try:
            old = dict(ex.streams.keys)
            await control(url, "fault", {"kind": "listenkey_expire", "user": USER})
            for side in ("futures", "spot"):
                await _until(lambda s=side: ex.streams.keys.get(s) != old[s] and ex.streams.user[s].connected.is_set())
            placed = await ex.place(order("BTC", Side.BUY, "0.01"))
            fill = await tape.until(lambda e: isinstance(e, FillEvent) and e.fill.order_id == placed.order_id)
            assert fill.fill.size == D("0.01")
        finally:
            await tape.close()


async def test_a_dropped_user_stream_comes_back_and_what_filled_meanwhile_is_told_once():
    async with aster() as (_, url, ex):
        tape = Tape(ex)
        try:
            resting = await ex.place(order("ETH", Side.BUY, "0.1", "3600"))  # above the market: fills at once
            await tape.until(lambda e: isinstance(e, FillEvent) and e.fill.order_id == resting.order_id)
            start = len(tape.seen)
            await control(url, "fault", {"kind": "ws_close"})
            await tape.until(lambda e: isinstance(e, StreamStatus) and not e.connected, start=start)
            await tape.until(lambda e: isinstance(e, StreamStatus) and e.connected, start=start)
            placed = await ex.place(order("SOL", Side.BUY, "1"))
            await tape.until(lambda e: isinstance(e, FillEvent) and e.fill.order_id == placed.order_id)
            ids = [e.fill.fill_id for e in tape.seen if isinstance(e, FillEvent)]
            assert len(ids) == len(set(ids)) == 2  # each once, across the reconnect and its backfill
        finally:
            await tape.close()


async def test_a_503_on_submit_is_found_by_client_id_and_never_doubled():
    async with aster() as (sim, url, ex):
        await control(url, "fault", {"kind": "503", "path": "/order", "executed": True})
        r = order("ETH", Side.BUY, "0.1", "3000")
        with pytest.raises(OrderStateUnknown):
            await ex.place(r)
        found = await ex.order_status("ETH", client_id=r.client_id)
        assert (found.status, found.client_id, found.price) == (OrderStatus.OPEN, r.client_id, D(3000))
        assert [o.client_id for o in await ex.open_orders(fresh=True)] == [r.client_id]  # once
        assert sum(1 for m, p in sim.requests if m == "POST" and p.endswith("/order")) == 1  # not retried


async def _until(pred: Any, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not pred():  # a state of the adapter's own (no event to wait on): looked at every 20 ms
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_429_storm_ends_without_a_ban():
    """The venue allows less than its exchangeInfo says (another client on the same IP, say): its 429s
    say how long to wait, the adapter waits that long before any request, and is never banned."""
    import time as _time

    minute_ends_in_ms = 3000
    wall = _time.time_ns() // 1_000_000
    offset = (60_000 - minute_ends_in_ms) - wall % 60_000  # the venue's minute ends 3 s from now

    def clock() -> int:
        return _time.time_ns() // 1_000_000 + offset

    async with aster_venue(fund_usdt=FUNDS, clock=clock, weight_per_minute=120) as (sim, url):
        await control(url, "signer", {"user": USER, "signer": SIGNER})
        sim.see(USER.lower())
        ws = url.replace("http://", "ws://")
        ex = AsterExchange(base_url=url, spot_base_url=url, ws_url=f"{ws}/fstream", spot_ws_url=f"{ws}/sstream",
                           credentials=Credentials(user=USER.lower(), signer_key=SIGNER_KEY), clock=clock)
        await ex.connect()
        try:
            for _ in range(30):  # 150 weight against the venue's 120 this minute
                await ex.positions(fresh=True)  # each answered: a 429 waits as told, then asks again
            state = sim.f.limits._ips["127.0.0.1"]
            assert state.retry_at > 0  # the venue did say 429 (and how long to wait)
            assert state.banned_until == 0 and state.bans == 0 and state.ignored == 0  # never asked too soon
        finally:
            await ex.close()
