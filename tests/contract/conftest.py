"""The venue contract suite: every test here runs once per venue in `VENUES`.

A venue is an async context manager yielding a connected Exchange and a `Control`: the test's hand
on the venue itself (move a price, let time pass, take the venue down, lose an answer, silence the
stream, cancel from outside). Adding a venue to the suite is one line in `VENUES` (and its Control);
tests/contract/test_registry.py fails while a venue the bot can build has none.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from exchanges.base import Exchange
from exchanges.models import Event, Fill, FillEvent, OrderRequest, Side
from risk.order_state import new_client_id
from sim.engine import Engine
from sim.paper import PaperExchange

USDC = Decimal(100_000)  # every venue's account starts with this much, perp and spot each


class VenueClock:
    """Wall-clock ms plus an offset the test moves: the venue and the adapter share it, so time can
    jump (a dead man's switch falls due) while sockets, nonces and trust windows still see real time."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset


@dataclass(frozen=True)
class Facts:
    """What differs between venues, and only that: their listings and their words. The tests say
    what must hold; these say in which market and in whose terms."""

    quote: str = "USDC"  # the account's cash asset, perp and spot
    spot: str = "PURR/USDC"  # a spot market, a size worth a few hundred dollars, a resting bid under it
    spot_size: str = "1000"
    spot_bid: str = "0.15"
    spot_price: Decimal = Decimal("0.2")
    btc_lot: Decimal = Decimal("0.00001")
    btc_off_tick: str = "95000.5"  # not a valid price: 6 significant figures, or off the tick
    min_notional: Decimal = Decimal(10)
    keeps_rejected: bool = True  # an order refused on placing is still known by its client id
    words: dict[str, str] = field(default_factory=lambda: {
        "tick": "divisible by tick size", "min_notional": "minimum value of \\$10",
        "margin": "Insufficient margin to place order.", "switch": "Cannot switch leverage type",
        "reduce_only": "[Rr]educe only"})


ASTER_FACTS = Facts(
    quote="USDT", spot="ASTER/USDT", spot_size="100", spot_bid="1.1", spot_price=Decimal("1.2"),
    btc_lot=Decimal("0.001"), btc_off_tick="95000.05", min_notional=Decimal(5), keeps_rejected=False,
    words={"tick": "Precision is over the maximum defined", "min_notional": "notional must be no smaller than 5",
           "margin": "Margin is insufficient", "switch": "position", "reduce_only": "[Rr]educe[Oo]nly"})


class Control(abc.ABC):
    """What a test does to the venue from outside the adapter, through the venue's own mechanisms."""

    socket_stream: bool  # events come over a socket that can drop (paper's are handed over in process)
    facts = Facts()

    def __init__(self, name: str, engine: Engine, account: str, clock: VenueClock):
        self.name, self.engine, self.account, self.clock = name, engine, account, clock
        self.usdc = USDC

    def mark(self, symbol: str) -> Decimal:
        return self.engine.mark(symbol)

    @abc.abstractmethod
    async def set_price(self, symbol: str, price: Decimal) -> None: ...

    async def advance(self, ms: int) -> None:
        """Time passes on the venue; what falls due (a scheduled cancel) happens at its next step."""
        self.clock.offset += ms
        await self._step()

    @abc.abstractmethod
    async def _step(self) -> None: ...

    @abc.abstractmethod
    async def down(self) -> None:
        """Every request fails as a venue that cannot serve (until `up`)."""

    @abc.abstractmethod
    async def up(self) -> None: ...

    @abc.abstractmethod
    async def lose_next_order_answer(self) -> None:
        """The next order is accepted by the venue, but its answer never reaches the adapter."""

    @abc.abstractmethod
    async def silence(self, seconds: float) -> None:
        """The event stream says nothing for a while (what happens meanwhile is unheard of)."""

    @abc.abstractmethod
    async def drop_stream(self) -> None:
        """The venue closes the stream (the adapter reconnects)."""

    def cancel_outside(self, order_id: str) -> None:
        """Cancelled by someone else (the venue's web app): the adapter did not ask for it."""
        self.engine.cancel(self.account, oid=int(order_id))


class PaperControl(Control):
    socket_stream = False

    def __init__(self, ex: PaperExchange, clock: VenueClock):
        super().__init__(ex.name, ex.engine, ex.account, clock)
        self.ex = ex

    async def set_price(self, symbol: str, price: Decimal) -> None:
        self.ex.set_price(symbol, price)

    async def _step(self) -> None:
        self.ex.tick()

    async def down(self) -> None:
        self.ex.faults.down = True

    async def up(self) -> None:
        self.ex.faults.down = False

    async def lose_next_order_answer(self) -> None:
        self.ex.faults.lose_responses = 1

    async def silence(self, seconds: float) -> None:  # in process: there is no socket to go quiet
        pass

    async def drop_stream(self) -> None:
        pass


class HyperliquidControl(Control):
    socket_stream = True

    def __init__(self, engine: Engine, url: str, account: str, clock: VenueClock):
        super().__init__("hyperliquid", engine, account, clock)
        self.url = url

    async def _sim(self, route: str, body: dict[str, Any]) -> None:
        from tests.hl import control

        await control(self.url, route, body)

    async def set_price(self, symbol: str, price: Decimal) -> None:
        await self._sim("price", {"coin": symbol, "px": str(price)})

    async def _step(self) -> None:
        await self._sim("step", {"n": 1})

    async def down(self) -> None:
        await self._sim("fault", {"kind": "503", "duration_s": 600})

    async def up(self) -> None:
        await self._sim("clear", {})

    async def lose_next_order_answer(self) -> None:
        await self._sim("fault", {"kind": "drop", "action": "order"})

    async def silence(self, seconds: float) -> None:
        await self._sim("fault", {"kind": "ws_silent", "duration_s": seconds})

    async def drop_stream(self) -> None:
        await self._sim("fault", {"kind": "ws_close"})


class AsterControl(Control):
    """Aster runs two books (futures and spot) on two engines; a symbol says which."""

    socket_stream = True
    facts = ASTER_FACTS

    def __init__(self, sim: Any, url: str, account: str, clock: VenueClock):
        super().__init__("aster", sim.f.engine, account, clock)
        self.sim, self.url = sim, url

    def _engine(self, symbol: str) -> Engine:
        return self.sim.s.engine if "/" in symbol else self.sim.f.engine

    def mark(self, symbol: str) -> Decimal:
        return self._engine(symbol).mark(symbol)

    def cancel_outside(self, order_id: str) -> None:
        for engine in (self.sim.f.engine, self.sim.s.engine):
            with contextlib.suppress(Exception):
                engine.cancel(self.account, oid=int(order_id))

    async def _sim(self, route: str, body: dict[str, Any]) -> None:
        from tests.aster import control

        await control(self.url, route, body)

    async def set_price(self, symbol: str, price: Decimal) -> None:
        await self._sim("price", {"symbol": symbol.replace("/", "") if "/" in symbol else f"{symbol}USDT",
                                  "px": str(price), "spot": "/" in symbol})

    async def _step(self) -> None:
        await self._sim("step", {"n": 1})

    async def down(self) -> None:
        await self._sim("fault", {"kind": "5xx", "status": 503, "duration_s": 600})

    async def up(self) -> None:
        await self._sim("clear", {})

    async def lose_next_order_answer(self) -> None:
        await self._sim("fault", {"kind": "drop", "path": "/order"})

    async def silence(self, seconds: float) -> None:
        await self._sim("fault", {"kind": "ws_silent", "duration_s": seconds})

    async def drop_stream(self) -> None:
        await self._sim("fault", {"kind": "ws_close"})


Venue = tuple[Exchange, Control]
VenueFactory = Callable[..., AbstractAsyncContextManager[Venue]]


@asynccontextmanager
async def paper(*, quick_stall: bool = False) -> AsyncIterator[Venue]:
    clock = VenueClock()
    ex = PaperExchange(starting_balance=USDC, clock=clock, tick_interval_s=None)
    await ex.connect()
    try:
        yield ex, PaperControl(ex, clock)
    finally:
        await ex.close()


@asynccontextmanager
async def hyperliquid(*, quick_stall: bool = False) -> AsyncIterator[Venue]:
    from tests.hl import ADDRESS, adapter, hl_venue  # the adapter only when its venue runs

    clock = VenueClock()
    async with hl_venue(clock=clock, fund_usdc=USDC) as (sim, url):
        sim.see(ADDRESS)
        ex = adapter(url, clock=clock, **({"stall_s": 0.5, "ping_s": 0.1} if quick_stall else {}))
        await ex.connect()
        try:
            yield ex, HyperliquidControl(sim.engine, url, ADDRESS, clock)
        finally:
            await ex.close()


@asynccontextmanager
async def aster(*, quick_stall: bool = False, v1: bool = False) -> AsyncIterator[Venue]:
    from exchanges.aster.adapter import AsterExchange
    from exchanges.aster.http import Credentials
    from tests.aster import API_KEY, API_SECRET, SIGNER, SIGNER_KEY, USER, aster_venue, control

    clock = VenueClock()
    async with aster_venue(clock=clock, fund_usdt=USDC) as (sim, url):
        if v1:  # keys made before 2026-03-25: HMAC, the /fapi/v1 paths
            await control(url, "apikey", {"user": USER, "api_key": API_KEY, "api_secret": API_SECRET})
            creds = Credentials(api_key=API_KEY, api_secret=API_SECRET)
        else:  # an API wallet: EIP-712, the /fapi/v3 paths
            await control(url, "signer", {"user": USER, "signer": SIGNER})
            creds = Credentials(user=USER.lower(), signer_key=SIGNER_KEY)
        sim.see(USER.lower())
        ws = url.replace("http://", "ws://")
        ex = AsterExchange(base_url=url, spot_base_url=url, ws_url=f"{ws}/fstream", spot_ws_url=f"{ws}/sstream",
                           credentials=creds, clock=clock,
                           **({"stall_s": 0.5, "ping_s": 0.1, "probe_s": 0.5} if quick_stall else {}))
        await ex.connect()
        try:
            yield ex, AsterControl(sim, url, USER.lower(), clock)
        finally:
            await ex.close()


# venue name -> its factory: the one place a venue joins the suite
VENUES: dict[str, VenueFactory] = {
    "paper": paper,
    "hyperliquid": hyperliquid,
    "aster": aster,
}


# more ways into one registered venue, each run like a venue of its own (name: "<venue>-<how>")
VARIANTS: dict[str, VenueFactory] = {
    "aster-v1": functools.partial(aster, v1=True),
}
RUNS = {**VENUES, **VARIANTS}


@pytest.fixture(params=sorted(RUNS))
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    async with RUNS[request.param]() as v:
        yield v


@pytest.fixture(params=sorted(RUNS))
async def gappy(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    """A venue whose adapter notices a silent stream within half a second."""
    async with RUNS[request.param](quick_stall=True) as v:
        yield v


class Tape:
    """Every event the venue streams, recorded from the start of the test."""

    def __init__(self, ex: Exchange):
        self.seen: list[Event] = []
        self._heard = asyncio.Event()
        self._task = asyncio.create_task(self._listen(ex))

    async def _listen(self, ex: Exchange) -> None:
        async for ev in ex.events():
            self.seen.append(ev)
            self._heard.set()

    async def until(self, pred: Callable[[Any], bool], within: float = 5.0, start: int = 0) -> Any:
        """The first event from index `start` for which pred holds, waiting for it if need be."""
        async def look() -> Any:
            i = start
            while True:
                while i < len(self.seen):
                    if pred(self.seen[i]):
                        return self.seen[i]
                    i += 1
                self._heard.clear()
                await self._heard.wait()

        return await asyncio.wait_for(look(), within)

    def fills(self, order_id: str | None) -> list[Fill]:
        return [e.fill for e in self.seen if isinstance(e, FillEvent) and e.fill.order_id == order_id]

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
async def tape(venue: Venue) -> AsyncIterator[Tape]:
    t = Tape(venue[0])
    yield t
    await t.close()


def req(ex: Exchange, symbol: str, side: Side, size: str, price: str | None = None, **kw: Any) -> OrderRequest:
    """An order for this venue, with a client id every venue accepts."""
    kw.setdefault("client_id", new_client_id())
    if price is None and "slippage" not in kw and kw.get("order_type") is None:
        kw["slippage"] = Decimal("0.01")
    return OrderRequest(ex.name, symbol, side, Decimal(size), Decimal(price) if price is not None else None, **kw)


__all__ = ["RUNS", "USDC", "VARIANTS", "VENUES", "Control", "Tape", "Venue", "VenueClock", "req"]
