"""Account reads from pushed state: when the push is trusted, when REST answers instead."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from typing import Any

from exchanges.hyperliquid.reads import REMEMBER_REPORTED, Reads
from exchanges.models import Side
from tests.conftest import FakeClock
from tests.hl import ADDRESS, adapter, hl_venue
from tests.test_hl_adapter import req

CH = {"type": "clearinghouseState", "user": ADDRESS}


class Rig:
    def __init__(self) -> None:
        self.now = 1_000
        self.live = True
        self.fetched: list[dict[str, Any]] = []
        self.answer: Any = "rest"
        self.reads = Reads(self.fetch, lambda: self.now, lambda: self.live)

    async def fetch(self, payload: dict[str, Any]) -> Any:
        self.fetched.append(payload)
        return self.answer

    def push(self, state: str) -> None:
        self.reads.pushed("clearinghouseState", {"dex": "", "user": ADDRESS, "clearinghouseState": state})

    async def read(self) -> Any:
        return await self.reads.read("clearinghouseState", CH, 1000)


async def test_a_push_answers_reads_until_something_changes():
    r = Rig()
    assert await r.read() == "rest" and len(r.fetched) == 1
    r.push("pushed-1")
    assert await r.read() == "pushed-1" and len(r.fetched) == 1
    r.reads.changed()  # e.g. a fill came down the stream: the push is older than what we know
    r.answer = "rest-2"
    assert await r.read() == "rest-2" and len(r.fetched) == 2
    r.push("pushed-2")
    assert await r.read() == "pushed-2"
    r.live = False  # stream down: pushes are not kept current, REST answers
    assert await r.read() == "rest-2" and len(r.fetched) == 3


async def test_after_our_own_action_pushes_wait_for_its_order_updates():
    r = Rig()
    r.push("before")
    r.reads.acted([101, "0xcloid"])  # an order placed, one cancelled; their updates have not come yet
    r.push("maybe-before")  # could have left the venue before it acted: not trusted
    r.answer = "rest-after"
    assert await r.read() == "rest-after"
    r.reads.order_updates([101])
    r.push("still-maybe-before")
    assert await r.read() == "rest-after"
    r.reads.order_updates([999, "0xcloid"])
    r.push("after")
    assert await r.read() == "after"


async def test_order_updates_that_beat_the_http_answer_count():
    r = Rig()
    r.reads.order_updates([7])  # the stream was faster than the venue's answer
    r.reads.acted([7])
    r.push("after")
    assert await r.read() == "after"


async def test_only_recent_order_updates_are_remembered():
    r = Rig()
    r.reads.order_updates(range(REMEMBER_REPORTED + 1))  # the first one has been forgotten
    r.reads.acted([0])
    r.push("maybe-before")
    assert await r.read() == "rest"
    r.reads.acted([REMEMBER_REPORTED])  # still remembered: not awaited
    r.reads.order_updates([0])
    r.push("after")
    assert await r.read() == "after"


async def test_updates_that_never_come_stop_being_awaited_after_a_second():
    r = Rig()
    r.reads.acted([5])
    r.push("early")
    assert await r.read() == "rest"
    r.now += 1_000
    r.push("later")
    assert await r.read() == "later"


async def test_an_answer_fetched_across_a_change_is_not_reused():
    r = Rig()
    gate = asyncio.Event()

    async def slow(payload: dict[str, Any]) -> Any:
        await gate.wait()
        return "fetched-before-the-change"

    r.reads._fetch = slow
    first = asyncio.create_task(r.read())
    await asyncio.sleep(0)
    r.reads.changed()
    gate.set()
    assert await first == "fetched-before-the-change"  # the caller asked before the change: fine for it
    r.reads._fetch = r.fetch
    assert await r.read() == "rest"  # but the next reader does not get it


async def in_memory(ex, symbol: str) -> None:
    """Until the stream has caught up: the account state pushed and the book streamed."""
    for _ in range(200):
        if ex.reads_in_memory(symbol):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the stream never caught up")


async def test_the_adapter_reads_from_the_stream_and_sees_its_own_orders(hl):
    sim, _, ex = hl
    await ex.ticker("ETH")  # first sight of ETH: subscribes to its book
    await in_memory(ex, "ETH")
    before = len(sim.requests)
    bal, positions, book = await ex.balances(), await ex.positions(), await ex.order_book("ETH")
    assert await ex.open_orders() == []
    assert len(sim.requests) == before  # nothing asked over REST
    assert bal.account_value == D(100_000) and positions == [] and book.asks

    resting = await ex.place(req("ETH", Side.BUY, "0.5", "3000"))
    [listed] = await ex.open_orders()  # at once: REST until the stream has reported the order
    assert listed.order_id == resting.order_id
    await in_memory(ex, "ETH")
    before = len(sim.requests)
    [listed] = await ex.open_orders()
    assert listed.order_id == resting.order_id and len(sim.requests) == before  # then from the push

    order = await ex.place(req("ETH", Side.BUY, "1", slippage=D("0.01")))
    [pos] = await ex.positions()  # at once, before the stream has caught up: never the old state
    assert pos.size == D(1) and pos.entry_price == order.avg_price
    await in_memory(ex, "ETH")
    before = len(sim.requests)
    [pos] = await ex.positions()
    assert pos.size == D(1) and len(sim.requests) == before


async def test_a_garbled_book_push_is_read_over_rest_instead(hl):
    sim, _, ex = hl
    await ex.order_book("ETH")
    await ex._on_message("l2Book", {"coin": "ETH", "time": 1, "levels": [[{"px": "x"}], []]})
    book = await ex.order_book("ETH")  # parsed when read: the bad one is dropped, REST answers
    assert book.bids and book.asks and book.bids[0].price < book.asks[0].price
    assert ("/info", "l2Book") in sim.requests[-3:]


async def test_mids_unheard_of_for_five_seconds_are_asked_over_rest():
    clock = FakeClock()
    async with hl_venue() as (sim, url):
        sim.see(ADDRESS)
        ex = adapter(url, clock=clock)
        await ex.connect()
        try:
            await ex.ticker("ETH")
            await in_memory(ex, "ETH")
            before = len(sim.requests)
            await ex.mids()
            assert len(sim.requests) == before  # pushed: from memory
            clock.advance(5_001)  # a quiet feed: no allMids for over five seconds
            assert not ex.reads_in_memory("ETH")
            await ex.mids()
            assert sim.requests[before:] == [("/info", "allMids")]
            await ex.mids()
            assert len(sim.requests) == before + 1  # fresh again
        finally:
            await ex.close()
